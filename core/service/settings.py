"""Every setting and every reported number, described for the page's widgets and messages, and
the typed configs built from widget values."""

from __future__ import annotations

from core.service.common import raise_all
from core.spec.errors import fail


def config_class(kind: str):
    if kind == "init":
        from core.embedding.strategies import InitConfig

        return InitConfig
    if kind == "finetune":
        from core.train.finetune import FinetuneConfig

        return FinetuneConfig
    if kind == "compare":
        from core.experiment.single.compare import CompareConfig

        return CompareConfig
    if kind == "backend":
        from core.execution import BackendConfig

        return BackendConfig
    if kind == "draft":
        from core.authoring.draft import DraftConfig

        return DraftConfig
    if kind == "many":
        from core.authoring.many import ManyConfig

        return ManyConfig
    raise fail("settings", f"{kind!r} is not a kind of settings",
               "ask for 'init', 'finetune', 'compare', 'backend', 'draft' or 'many'")


class Settings:
    """Descriptions of settings, strategies and metrics; configs from widget values."""

    @staticmethod
    def describe(kind: str) -> list[dict]:
        """Every setting of the initialization ("init"), the fine-tuning ("finetune"), a comparison
        ("compare", with where its members run), drafting ("draft"), drafting many symbols ("many")
        or a vocabulary drafted from the lexicon ("vocab_draft") for the page: name, kind, default,
        choices, min, max, label, help, advanced (``core.spec.settings``)."""
        from core.spec import settings

        if kind == "vocab_draft":
            return Settings.vocab_draft()
        described = settings.describe(config_class(kind))
        if kind == "compare":
            where = config_class("backend")
            described += [d for d in settings.describe(where) if d["name"] in where.FOR_MEMBERS]
        return described

    @staticmethod
    def vocab_draft() -> list[dict]:
        """The settings of a vocabulary drafted from the lexicon ("vocab_draft"): the ``ManyConfig``
        ones, then the drafting settings that apply per symbol, the seed included (``DraftConfig``
        less ``many.NOT_SCREENING``)."""
        from core.authoring.many import NOT_SCREENING
        from core.spec import settings

        screening = [d for d in settings.describe(config_class("draft"))
                     if d["name"] not in NOT_SCREENING or d["name"] == "seed"]
        return settings.describe(config_class("many")) + screening

    @staticmethod
    def vocab_draft_configs(values: dict) -> tuple:
        """(``ManyConfig``, ``DraftConfig``) from the values of ``vocab_draft()``'s settings by name
        (the draft's own count of sampled sentences is 0: the writer's is ``ManyConfig.generate``);
        one ``InputError`` with every problem of both."""
        many, draft = config_class("many"), config_class("draft")
        names = {d["name"] for d in Settings.describe("many")}
        out: dict = {}
        raise_all(lambda: out.__setitem__("many", many.from_dict({k: v for k, v in values.items() if k in names})),
                  lambda: out.__setitem__("draft", draft.from_dict(
                      {k: v for k, v in values.items() if k not in names} | {"generate": 0})))
        return out["many"], out["draft"]

    @staticmethod
    def labels() -> dict[str, str]:
        """{field: label} of every setting, to name fields in messages as the page labels them."""
        from core.spec import settings

        return settings.labels(config_class("backend"), config_class("compare"), config_class("finetune"),
                               config_class("init"))

    @staticmethod
    def max_new_tokens() -> dict:
        """The generation length's description (default, min, max, label, help), like a setting's."""
        from core.spec.settings import MAX_NEW_TOKENS

        s = MAX_NEW_TOKENS
        return {"name": "max_new_tokens", "kind": s.kind, "default": s.default, "min": s.range[0],
                "max": s.range[1], "label": s.label, "help": s.help}

    @staticmethod
    def strategies() -> list[dict]:
        """Every strategy: name, label, one-line help, whether its output row is calculated, its
        groups and the names of its own settings (grouped under its ``settings_title`` on the page)."""
        from core.embedding.strategies import STRATEGIES

        return [s.describe() for s in STRATEGIES.values()]

    @staticmethod
    def metrics() -> list[dict]:
        """The results schema: every metric's keys, label and meaning."""
        from core.experiment.analysis import results

        return results.describe()

    def init_defaults(self) -> dict:
        return {f["name"]: f["default"] for f in self.describe("init")}

    @staticmethod
    def init_config(values: dict):
        """An ``InitConfig`` from widget values (whole numbers may arrive as floats)."""
        return config_class("init").from_dict(dict(values))

    @staticmethod
    def finetune_config(values: dict):
        return config_class("finetune").from_dict(dict(values))

    @staticmethod
    def compare_config(values: dict):
        """A ``CompareConfig`` from the Compare tab's values (where its members run is ``backend_config``'s)."""
        where = config_class("backend").FOR_MEMBERS
        return config_class("compare").from_dict({k: v for k, v in values.items() if k not in where})

    @staticmethod
    def backend_config(values: dict):
        """Where a comparison's members run (``core.execution.BackendConfig``), from the Compare tab's values."""
        where = config_class("backend")
        return where.from_dict({k: v for k, v in values.items() if k in where.FOR_MEMBERS})
