-- An owner must be a member of the record's group (checkOwner), and removing a member now unassigns their records
-- there (groups.service.ts, removeMember). Records left with a former member as owner before that, trashed and
-- converted ones too, are unassigned here, each with an edit in its history by nobody (the system), as the
-- removal writes it. Locked before they change, in id order, as removeMember locks them.
WITH orphaned AS (
  SELECT l.id, l.group_id, u.name FROM leads l JOIN users u ON u.id = l.owner_id
  WHERE NOT EXISTS (SELECT 1 FROM memberships m WHERE m.group_id = l.group_id AND m.user_id = l.owner_id)
  ORDER BY l.id FOR UPDATE OF l
), released AS (
  UPDATE leads SET owner_id = NULL, updated_at = now() FROM orphaned o WHERE leads.id = o.id RETURNING leads.id
)
INSERT INTO activities (group_id, lead_id, actor_id, action, data)
SELECT o.group_id, o.id, NULL, 'updated', jsonb_build_object('changes', jsonb_build_object('ownerId', jsonb_build_array(o.name, NULL)))
FROM orphaned o;--> statement-breakpoint
WITH orphaned AS (
  SELECT c.id, c.group_id, u.name FROM clients c JOIN users u ON u.id = c.owner_id
  WHERE NOT EXISTS (SELECT 1 FROM memberships m WHERE m.group_id = c.group_id AND m.user_id = c.owner_id)
  ORDER BY c.id FOR UPDATE OF c
), released AS (
  UPDATE clients SET owner_id = NULL, updated_at = now() FROM orphaned o WHERE clients.id = o.id RETURNING clients.id
)
INSERT INTO activities (group_id, client_id, actor_id, action, data)
SELECT o.group_id, o.id, NULL, 'updated', jsonb_build_object('changes', jsonb_build_object('ownerId', jsonb_build_array(o.name, NULL)))
FROM orphaned o;
