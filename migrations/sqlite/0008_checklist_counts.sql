-- The portal home shows "2 of 4 done" beside every task. Counting checklist items per task on
-- each page view cost two index searches per task (and a table read per item for `done`), the
-- larger part of the page's database time. The counts now live on the task and the triggers
-- below keep them exact on every insert, delete and tick, whatever code path writes.

ALTER TABLE tasks ADD COLUMN checklist_total BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN checklist_done BIGINT NOT NULL DEFAULT 0;

UPDATE tasks SET
    checklist_total = (SELECT COUNT(*) FROM checklist_items c WHERE c.task_id = tasks.id),
    checklist_done = (SELECT COUNT(*) FROM checklist_items c WHERE c.task_id = tasks.id AND c.done)
WHERE EXISTS (SELECT 1 FROM checklist_items c WHERE c.task_id = tasks.id);

CREATE TRIGGER checklist_items_count_insert AFTER INSERT ON checklist_items
BEGIN
    UPDATE tasks SET checklist_total = checklist_total + 1,
                     checklist_done = checklist_done + (CASE WHEN NEW.done THEN 1 ELSE 0 END)
    WHERE id = NEW.task_id;
END;

CREATE TRIGGER checklist_items_count_delete AFTER DELETE ON checklist_items
BEGIN
    UPDATE tasks SET checklist_total = checklist_total - 1,
                     checklist_done = checklist_done - (CASE WHEN OLD.done THEN 1 ELSE 0 END)
    WHERE id = OLD.task_id;
END;

CREATE TRIGGER checklist_items_count_tick AFTER UPDATE OF done ON checklist_items
WHEN NEW.done IS NOT OLD.done
BEGIN
    UPDATE tasks SET checklist_done = checklist_done + (CASE WHEN NEW.done THEN 1 ELSE -1 END)
    WHERE id = NEW.task_id;
END;
