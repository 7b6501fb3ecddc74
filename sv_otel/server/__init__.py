"""``sv-otel serve``: configuration, the component registry, pipelines, workers, health.

Modules (import them directly; this package imports nothing, so components can use its
helpers without import cycles):

* :mod:`sv_otel.server.config` — the YAML configuration (``load_config``, ``read_config_file``);
* :mod:`sv_otel.server.registry` — ``REGISTRY``, ``ComponentContext``, ``Receiver``;
* :mod:`sv_otel.server.section` — ``ConfigSection``, strict typed reading of a YAML mapping;
* :mod:`sv_otel.server.runtime` — ``Gateway``, one worker's receivers, queue and exporters;
* :mod:`sv_otel.server.process` — ``run_gateway``: one process or a supervisor with workers;
* :mod:`sv_otel.server.pipeline`, :mod:`~sv_otel.server.health`,
  :mod:`~sv_otel.server.metrics`, :mod:`~sv_otel.server.sockets`, :mod:`~sv_otel.server.expand`.
"""
