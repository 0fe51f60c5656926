"""GA/T 1400 (公安视频图像信息应用系统, 视图库/VIID): the box as a certified front-end device.

- :mod:`sync.gat1400.codes` — the standard's code tables and the StatusCode → action map;
- :mod:`sync.gat1400.objects` — event → MotorVehicle / Face / DispositionNotification /
  SubscribeNotification (pure functions, golden-tested field by field);
- :mod:`sync.gat1400.client` — the session (register, keepalive, time, unregister, for the
  box and each APE) and the uplink adapter the worker drives;
- :mod:`sync.gat1400.store` — subscriptions and dispositions the platform gave the box,
  and the fan-out of events into subscription notifications in the outbox;
- :mod:`sync.gat1400.server` — the box's own 1400 server (Subscribes, Dispositions, images);
- :mod:`sync.gat1400.simulator` — platform simulators for tests, the demo and the benchmark.
"""
