-- The portal home shows "2 of 4 done" beside every task. Counting checklist items per task on
-- each page view cost two index searches per task (and a heap read per item for `done`), the
-- larger part of the page's database time. The counts now live on the task and the trigger
-- below keeps them exact on every insert, delete and tick, whatever code path writes.

ALTER TABLE tasks ADD COLUMN checklist_total BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN checklist_done BIGINT NOT NULL DEFAULT 0;

UPDATE tasks SET
    checklist_total = counts.total,
    checklist_done = counts.done
FROM (SELECT task_id, COUNT(*) AS total, COUNT(*) FILTER (WHERE done) AS done
      FROM checklist_items GROUP BY task_id) counts
WHERE counts.task_id = tasks.id;

CREATE FUNCTION checklist_items_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE tasks SET checklist_total = checklist_total + 1,
                         checklist_done = checklist_done + NEW.done::int
        WHERE id = NEW.task_id;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE tasks SET checklist_total = checklist_total - 1,
                         checklist_done = checklist_done - OLD.done::int
        WHERE id = OLD.task_id;
    ELSIF NEW.done IS DISTINCT FROM OLD.done THEN
        UPDATE tasks SET checklist_done = checklist_done + NEW.done::int - OLD.done::int
        WHERE id = NEW.task_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER checklist_items_count
AFTER INSERT OR DELETE OR UPDATE OF done ON checklist_items
FOR EACH ROW EXECUTE FUNCTION checklist_items_count();
