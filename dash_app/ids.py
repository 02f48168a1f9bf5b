"""Component ids shared between layouts and callbacks."""

LANG_STORE = "lang-store"
LANG_SWITCH = "lang-switch"
APP_TITLE = "app-title"
HOME_HEADING = "home-heading"
HOME_INTRO = "home-intro"
HOME_STATUS = "home-status"
