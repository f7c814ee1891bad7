"""Translation metrics: corpus BLEU (Papineni et al. 2002) and chrF (Popović 2015) computed by
sacrebleu with its standard settings, so scores are comparable and their signatures say how
(Post 2018), and exact match (the share of outputs equal to their reference).

    text_metrics(["2021-03-04"], ["2021-03-04"])   # {"bleu": 100.0, "chrf": 100.0, "exact_match": 1.0}
"""

from __future__ import annotations

from collections.abc import Sequence


def _sacrebleu():
    try:
        import sacrebleu
    except ImportError as e:
        raise ImportError("BLEU and chrF need sacrebleu: pip install 'rnnkit[translate]'") from e
    return sacrebleu


def _check(hypotheses: Sequence[str], references: Sequence[str]) -> None:
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} outputs but {len(references)} references; they must pair up")
    if not references:
        raise ValueError("no sentences to score")


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU in [0, 100] with one reference per sentence (13a tokenisation, exp smoothing)."""
    _check(hypotheses, references)
    return float(_sacrebleu().metrics.BLEU().corpus_score(list(hypotheses), [list(references)]).score)


def chrf(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus chrF (character 6-grams, beta = 2) in [0, 100]."""
    _check(hypotheses, references)
    return float(_sacrebleu().metrics.CHRF().corpus_score(list(hypotheses), [list(references)]).score)


def exact_match(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    _check(hypotheses, references)
    return sum(h.strip() == r.strip() for h, r in zip(hypotheses, references)) / len(references)


def text_metrics(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    return {"bleu": bleu(hypotheses, references), "chrf": chrf(hypotheses, references),
            "exact_match": exact_match(hypotheses, references)}


def signatures() -> dict[str, str]:
    """sacrebleu's signatures of the BLEU and chrF settings used here (for reports)."""
    out = {}
    for name, metric in (("bleu", _sacrebleu().metrics.BLEU()), ("chrf", _sacrebleu().metrics.CHRF())):
        metric.corpus_score(["a"], [["a"]])                 # the signature names the reference count
        out[name] = str(metric.get_signature())
    return out
