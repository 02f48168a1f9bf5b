-- Live feature updates (a point's latest measurement, many per second) must stay cheap:
-- * no index on modified_at, so that such an update changes no indexed column and PostgreSQL can
--   update the row in place (HOT) instead of touching every index of the table;
-- * no notification for them: the hierarchy graph follows structure (attributes, soft deletes)
--   and the states it rolls up (online, alarm, risk), not every measured value.
DROP INDEX things_modified_idx;

DROP TRIGGER things_notify ON things;
CREATE TRIGGER things_notify_insert_delete AFTER INSERT OR DELETE ON things
    FOR EACH ROW EXECUTE FUNCTION dt_notify_thing_change();
CREATE TRIGGER things_notify_update AFTER UPDATE ON things
    FOR EACH ROW
    WHEN (OLD.attributes IS DISTINCT FROM NEW.attributes
          OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at
          OR OLD.definition IS DISTINCT FROM NEW.definition
          OR OLD.features #> '{connectivity,properties,online}'
             IS DISTINCT FROM NEW.features #> '{connectivity,properties,online}'
          OR OLD.features -> 'alarm' IS DISTINCT FROM NEW.features -> 'alarm'
          OR OLD.features -> 'risk' IS DISTINCT FROM NEW.features -> 'risk')
    EXECUTE FUNCTION dt_notify_thing_change();

-- Leave room on each page for in-place updates.
ALTER TABLE things SET (fillfactor = 70);
