"""``sv-otel serve``: configuration, the component registry, pipelines, workers, health.

Modules (import them directly; this package imports nothing, so components can use its
helpers without import cycles):

* :mod:`sv_otel.server.config` — the YAML configuration (``load_config``, ``read_config_file``);
* :mod:`sv_otel.server.registry` — ``REGISTRY``, ``ComponentContext``, ``Receiver``;
* :mod:`sv_otel.server.section` — ``ConfigSection``, strict typed reading of a YAML mapping;
* :mod:`sv_otel.server.runtime` — ``Gateway``, one worker's receivers, queue and exporters;
* :mod:`sv_otel.server.process` — ``run_gateway``: one process or a supervisor with workers;
* :mod:`sv_otel.server.shards` — the queue shards a worker owns and opens;
* :mod:`sv_otel.server.processing` — the processors' timed and shutdown output, their routes;
* :mod:`sv_otel.server.sockets` — ``bind_socket`` and ``HttpServer`` (uvicorn, embedded), over
  :mod:`~sv_otel.server.protocol` (deadlines, header bound, direct routes),
  :mod:`~sv_otel.server.direct` (the direct-route contract), :mod:`~sv_otel.server.refusals`
  (the protocol's own 408 / 431), :mod:`~sv_otel.server.deadline` (body deadlines) and
  :mod:`~sv_otel.server.log_limits` (client-caused warnings, limited);
* :mod:`sv_otel.server.pipeline`, :mod:`~sv_otel.server.health`,
  :mod:`~sv_otel.server.metrics`, :mod:`~sv_otel.server.expand`.
"""
