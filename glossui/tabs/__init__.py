"""One module per tab. Each exposes ``ID`` (the tab's id), ``TITLE`` (its label) and
``build(page)``, which creates the tab's components, publishes them with ``page.add(ID, ...)``
and wires its own events. ``glossui.layout.TABS`` lists them in page order.

Owns, in page order: ``gloss``, ``model``, ``initialize``, ``train``, ``compare``, ``vocabulary``,
``generate``, ``runs``, ``export``."""
