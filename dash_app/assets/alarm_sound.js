/* The alarms page's audible cue (报警声音提醒) and small browser-side helpers.
 *
 * Browsers let a page make sound only after a user gesture, so the page offers a button that
 * enables sound (remembered in localStorage by a dcc.Store with storage_type "local"); the click
 * creates and unlocks the Web Audio context. After a reload the remembered choice needs one more
 * click or key anywhere on the page before the browser lets it sound again: any gesture unlocks it.
 * The beep is synthesised (Web Audio oscillators): no sound file, nothing fetched.
 * window.dusttwinAlarmBeeps counts the cues played (browser tests read it).
 */
(function () {
    "use strict";

    var SOUND_STORE = "alm-sound"; // the dcc.Store's id: localStorage key, JSON value
    var audio = null;
    window.dusttwinAlarmBeeps = window.dusttwinAlarmBeeps || 0;

    function soundWanted() {
        try {
            return JSON.parse(window.localStorage.getItem(SOUND_STORE)) === true;
        } catch (e) {
            return false;
        }
    }

    function context() {
        if (!audio) {
            var AudioContextClass = window.AudioContext || window.webkitAudioContext;
            if (!AudioContextClass) {
                return null;
            }
            audio = new AudioContextClass();
        }
        if (audio.state === "suspended") {
            audio.resume();
        }
        return audio;
    }

    function tone(ac, start, frequency, seconds) {
        var osc = ac.createOscillator();
        var gain = ac.createGain();
        osc.type = "square";
        osc.frequency.value = frequency;
        gain.gain.setValueAtTime(0.0001, start);
        gain.gain.exponentialRampToValueAtTime(0.25, start + 0.01);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + seconds);
        osc.connect(gain);
        gain.connect(ac.destination);
        osc.start(start);
        osc.stop(start + seconds + 0.02);
    }

    // A two-tone alarm pattern, `times` over (about 0.35 s each).
    function pattern(times) {
        var ac = context();
        if (!ac) {
            return false;
        }
        var t0 = ac.currentTime + 0.05;
        for (var i = 0; i < times; i++) {
            tone(ac, t0 + i * 0.35, 880, 0.17);
            tone(ac, t0 + i * 0.35 + 0.17, 660, 0.15);
        }
        window.dusttwinAlarmBeeps += 1;
        return true;
    }

    function unlockOnGesture() {
        if (soundWanted()) {
            context();
        }
    }
    ["pointerdown", "keydown", "touchstart"].forEach(function (name) {
        document.addEventListener(name, unlockOnGesture, {passive: true});
    });

    var noUpdate = function () {
        return window.dash_clientside.no_update;
    };

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        dusttwinAlarms: {
            // the "enable sound" button: flip the remembered choice; enabling beeps once
            toggleSound: function (clicks, enabled) {
                if (!clicks) {
                    return noUpdate();
                }
                var on = !enabled;
                if (on) {
                    pattern(1);
                }
                return on;
            },
            // a new high-level alarm: three beeps, when sound is on
            beep: function (count, enabled) {
                if (!count || !enabled) {
                    return noUpdate();
                }
                pattern(3);
                return count;
            },
            // "处理" on an alarm or warning: bring the form into view (a phone scrolls far)
            scrollToForm: function (selected) {
                if (!selected) {
                    return noUpdate();
                }
                var form = document.getElementById("alm-form-section");
                if (form && form.scrollIntoView) {
                    form.scrollIntoView({behavior: "smooth", block: "start"});
                }
                return selected.kind + "-" + selected.id;
            }
        }
    });
})();
