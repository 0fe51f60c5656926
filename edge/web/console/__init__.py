"""The guard and admin console: blueprints of the one web app (``edge.web.app``).

They share the app's accounts, roles, sessions, CSRF check and audit log. Each blueprint
is one audience's set of pages and checks its roles once, in a ``before_request``
(the roles per blueprint are in ``edge.web.access``):

| blueprint | prefix | roles | what |
| --- | --- | --- | --- |
| ``console_live`` | ``/console`` | admin, guard | live view per gate, manual open, health |
| ``console_events`` | ``/events`` | admin, guard, police, grid | search, event, snapshot, feed |
| ``console_people`` | ``/people`` | admin, guard | residents, households, faces, plates, PINs |
| ``console_passes`` | ``/passes`` | admin, guard | visitor passes by QR, plate or face |
| ``console_watchlist`` | ``/watchlist`` | admin, police | plates and faces on the watchlist |
| ``console_my_passes`` | ``/my`` | resident | a resident's own visitor passes (QR, plate) |

Police and grid workers' reads of gate events are audit-logged (the rule for every access
by police); guards' and admins' changes are audit-logged too.
"""
