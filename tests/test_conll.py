"""Sequence-labelling data: CoNLL-U and column readers, tag schemes, tag metrics, and the counts
of the two corpora (issue #21)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnkit.data.conll import read_columns, read_conllu
from rnnkit.data.fetch import FetchError
from rnnkit.data.tag_metrics import entity_scores, token_accuracy
from rnnkit.data.tag_schemes import check, chunks, convert, is_valid, repair, tag_set
from rnnkit.data.tagged_corpora import conll2003_paths, ewt_paths

CONLLU = """# newdoc id = d1
# sent_id = 1
# text = I don't know.
1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_
2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
2\tdo\tdo\tAUX\tVBP\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
4\tknow\tknow\tVERB\tVB\t_\t0\troot\t_\t_
4.1\tknow\tknow\tVERB\tVB\t_\t_\t_\t4:conj\t_
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

# sent_id = 2
1\tNew York\tNew York\tPROPN\tNNP\t_\t0\troot\t_\t_
"""

COLUMNS = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O

-DOCSTART- -X- -X- O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""


def write(tmp_path: Path, text: str | bytes, name: str = "f.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_conllu_skips_comments_ranges_and_empty_nodes(tmp_path: Path) -> None:
    path = write(tmp_path, CONLLU)
    assert read_conllu(path) == [(["I", "do", "n't", "know", "."], ["PRON", "AUX", "PART", "VERB", "PUNCT"]),
                                 (["New York"], ["PROPN"])]                  # a tab-separated FORM may hold spaces
    assert read_conllu(path, column="xpos")[0][1] == ["PRP", "VBP", "RB", "VB", "."]


def test_columns_drop_docstart_and_split_at_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path, COLUMNS.replace("\n", "\r\n"))                    # Windows line ends too
    assert read_columns(path) == [(["EU", "rejects"], ["B-ORG", "O"]), (["Peter", "Blackburn"], ["B-PER", "I-PER"])]
    assert read_columns(path, tag_column=1)[1] == (["Peter", "Blackburn"], ["NNP", "NNP"])


@pytest.mark.parametrize(("reader", "text", "message"), [
    (read_conllu, CONLLU.replace("\tPART\tRB", " PART RB"), r"f.txt, line 7: .* has 10 tab-separated fields .* this "
                                                           r"one has 8; separate the fields by single tabs"),
    (read_conllu, "1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_\nx\ty\ty\tX\tX\t_\t1\tdep\t_\t_\n",
     r"f.txt, line 2: ID 'x' is not a word index"),
    (read_conllu, "1\tI\tI\t_\tPRP\t_\t3\tnsubj\t_\t_\n", r"line 1: no UPOS tag \(_\) for 'I'.*\(column='xpos'\)"),
    (read_columns, COLUMNS.replace("Blackburn NNP I-NP", "Blackburn NNP"), r"f.txt, line 9: 3 columns where the "
                                                                          r"file's first token line has 4"),
    (read_columns, "caf\xe9 NN O\n".encode("latin-1"), r"f.txt, line 1: byte 0xe9 is not UTF-8; convert the file"),
    (read_conllu, b"", r"f.txt, line 1: the file is empty"),
    (read_columns, "-DOCSTART- -X- -X- O\n\n", r"f.txt, line 3: no sentences .* expected token lines"),
])
def test_malformed_files_name_the_file_and_line(tmp_path: Path, reader, text, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        reader(write(tmp_path, text))


def test_a_column_outside_the_rows_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"line 3: tag_column=4 but the line has 4 columns; choose a column from 0"):
        read_columns(write(tmp_path, COLUMNS), tag_column=4)


SCHEMES = {  # one chunk sequence, PER(0-1) PER(2) O LOC(4-6) ORG(7), in each scheme
    "IOB1": ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-LOC", "I-LOC", "I-ORG"],
    "IOB2": ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "I-LOC", "I-LOC", "B-ORG"],
    "BIOES": ["B-PER", "E-PER", "S-PER", "O", "B-LOC", "I-LOC", "E-LOC", "S-ORG"],
}


@pytest.mark.parametrize("source", sorted(SCHEMES))
@pytest.mark.parametrize("target", [*sorted(SCHEMES), "BIO"])
def test_conversion_is_exact_between_every_pair(source: str, target: str) -> None:
    assert convert(SCHEMES[source], source, target) == SCHEMES["IOB2" if target == "BIO" else target]
    assert chunks(SCHEMES[source], source) == [("PER", 0, 2), ("PER", 2, 3), ("LOC", 4, 7), ("ORG", 7, 8)]


@pytest.mark.parametrize(("tags", "scheme", "message"), [
    (["O", "I-PER"], "IOB2", r"tag 1 \('I-PER'\) after 'O' is not valid IOB2: I-PER continues a PER chunk"),
    (["B-PER", "I-LOC"], "BIO", r"tag 1 .* I-LOC continues a LOC chunk; begin one with B-LOC"),
    (["O", "B-PER"], "IOB1", r"IOB1 uses B-PER only right after another PER chunk; write I-PER"),
    (["B-PER", "O"], "BIOES", r"tag 1 .* the PER chunk begun at tag 0 must end with E-PER first"),
    (["O", "B-PER"], "BIOES", r"the tags end inside the PER chunk begun at tag 1"),
    (["E-PER"], "BIOES", r"tag 0 \('E-PER'\) at the start .* a one-token chunk is S-PER"),
    (["S-PER"], "IOB2", r"tag 0 \('S-PER'\) is not a tag of IOB2: write O, B-TYPE, I-TYPE"),
    (["PER"], "BIOES", r"is not a tag of BIOES"),
])
def test_invalid_sequences_name_the_tag_and_the_rule(tags: list[str], scheme: str, message: str) -> None:
    assert not is_valid(tags, scheme)
    with pytest.raises(ValueError, match=message):
        check(tags, scheme)
    with pytest.raises(ValueError, match=message):
        convert(tags, scheme, "IOB2")


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_repair_keeps_valid_sequences_exactly(scheme: str) -> None:
    assert repair(SCHEMES[scheme], scheme) == SCHEMES["IOB2"]


@pytest.mark.parametrize(("tags", "scheme", "expected"), [
    (["O", "I-PER", "I-PER"], "IOB2", ["O", "B-PER", "I-PER"]),             # conlleval: I after O starts one
    (["B-PER", "I-LOC", "E-LOC"], "BIOES", ["B-PER", "B-LOC", "I-LOC"]),
    (["B-PER", "O", "E-PER", "S-LOC", "I-LOC"], "BIOES", ["B-PER", "O", "B-PER", "B-LOC", "B-LOC"]),
    (["B-PER", "B-PER"], "BIOES", ["B-PER", "B-PER"]),                     # an unclosed B- is a chunk of its own
])
def test_repair_reads_invalid_predictions_as_conlleval_does(tags, scheme, expected) -> None:
    assert repair(tags, scheme) == expected and is_valid(expected, "IOB2")


def test_tag_set_has_every_prefix_of_every_type() -> None:
    assert tag_set(["O", "B-PER", "S-LOC"], "BIOES") == ["O", "B-LOC", "I-LOC", "E-LOC", "S-LOC", "B-PER", "I-PER",
                                                          "E-PER", "S-PER"]
    assert tag_set(["I-ORG"], "IOB1") == ["O", "B-ORG", "I-ORG"]


def test_an_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown tagging scheme 'BILOU'; choose from IOB1, IOB2, BIO, BIOES"):
        convert(["O"], "IOB2", "BILOU")


# word, gold, predicted (conlleval's input). By hand, as conlleval counts:
#   gold entities (5): PER John Smith, LOC New York, ORG EU, MISC German, LOC Paris
#   predicted (6): PER John Smith (right), LOC New, LOC York (both wrong: split), ORG EU (right),
#   MISC call (wrong: an I- after O starts an entity), PER Paris (wrong type)
#   precision 2/6 = 0.3333, recall 2/5 = 0.4, F1 = 2PR/(P+R) = 4/11 = 0.3636
#   tokens 12, wrong 4 (York, German, call, Paris): accuracy 8/12 = 0.6667
SCORED = """John B-PER B-PER
Smith I-PER I-PER
lives O O
in O O
New B-LOC B-LOC
York I-LOC B-LOC
. O O

EU B-ORG B-ORG
rejects O O
German B-MISC O
call O I-MISC
Paris B-LOC B-PER
"""


def test_scores_match_conlleval_by_hand(tmp_path: Path) -> None:
    pytest.importorskip("seqeval")
    path = write(tmp_path, SCORED)
    gold = [tags for _, tags in read_columns(path, tag_column=1)]
    pred = [tags for _, tags in read_columns(path, tag_column=2)]
    assert token_accuracy(gold, pred) == pytest.approx(8 / 12)
    assert entity_scores(gold, pred) == pytest.approx({"precision": 2 / 6, "recall": 2 / 5, "f1": 4 / 11})
    assert entity_scores(gold, [["O"] * len(g) for g in gold]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    with pytest.raises(ValueError, match="sentence 1: 5 gold tags but 4 predicted ones"):
        token_accuracy(gold, [pred[0], pred[1][:4]])


def counts(sentences: list) -> tuple[int, int]:
    return len(sentences), sum(len(words) for words, _ in sentences)


def test_vendored_ewt_has_the_issue_counts() -> None:
    # Words are the syntactic words (integer IDs): multi-word ranges and empty nodes are not counted.
    train, dev, test = (read_conllu(p) for p in ewt_paths())
    assert [counts(s) for s in (train, dev, test)] == [(12544, 204577), (2001, 25147), (2077, 25094)]
    assert len({tag for _, tags in train for tag in tags}) == 17
    assert all((p.parent / name).is_file() for p in ewt_paths()[:1] for name in ("LICENSE.txt", "README.md"))


def test_fetched_conll2003_has_the_issue_counts() -> None:
    try:
        paths = conll2003_paths()
    except FetchError as err:
        pytest.skip(f"CoNLL-2003 cannot be fetched here: {err}")
    splits = [read_columns(p) for p in paths]
    assert [counts(s) for s in splits] == [(14041, 203621), (3250, 51362), (3453, 46435)]
    assert all(is_valid(tags, "IOB2") for split in splits for _, tags in split)
