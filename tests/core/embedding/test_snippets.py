"""Snippets for Token Distillation: the gloss written back in, generated snippets, texts, alignment."""

from __future__ import annotations

import pytest
import torch

from core.embedding.snippets import (Snippet, bos_ids, check_length, generated_snippets, sentence_snippets,
                                     text_snippets)
from core.model.tokens import add_token
from core.spec.errors import InputError

TOKEN = "[BLISS_29111]"


def _enc(tokenizer, text):
    return tokenizer.encode(text, add_special_tokens=False)


def test_sentence_snippets_write_each_gloss_back_in_turn(tiny, tiny_spec):
    _, tokenizer = tiny
    found = sentence_snippets(tokenizer, tiny_spec)
    assert len(found) == len(tiny_spec.fine_tuning_sentences)
    for i, (snippet, sentence) in enumerate(zip(found, tiny_spec.fine_tuning_sentences)):
        gloss = tiny_spec.gloss_texts[i % 2]
        assert snippet.gloss == i % 2 and snippet.source == "sentence"
        # The teacher reads the sentence as if written with the gloss (BOS first).
        assert list(snippet.ids) == bos_ids(tokenizer) + _enc(tokenizer, sentence.replace(" " + TOKEN, gloss))
        start = snippet.starts[0]
        assert list(snippet.ids[start:start + snippet.width]) == _enc(tokenizer, gloss)


@pytest.mark.parametrize("glued", [False, True])
def test_the_student_reading_is_the_tokenized_sentence_with_the_token(tiny, tiny_spec, glued):
    model, tokenizer = tiny
    token_id = add_token(model, tokenizer, TOKEN)
    sentences = [s.replace(" " + TOKEN, TOKEN) if glued else s for s in tiny_spec.fine_tuning_sentences]
    tiny_spec.fine_tuning_sentences = sentences
    for snippet, sentence in zip(sentence_snippets(tokenizer, tiny_spec), sentences):
        aligned = snippet.aligned
        student = list(aligned.student_ids)
        for p in aligned.token_positions:
            student[p] = token_id
        assert student == bos_ids(tokenizer) + _enc(tokenizer, sentence)


def test_alignment_of_two_occurrences_by_hand():
    # ids: 9 [1 2 3] 8 [1 2 3] 7, phrase of 3 at 1 and 5.
    snippet = Snippet((9, 1, 2, 3, 8, 1, 2, 3, 7), (1, 5), 3)
    a = snippet.aligned
    assert a.student_ids == (9, 3, 8, 3, 7)
    assert a.token_positions == (1, 3)
    assert a.student_positions == (1, 2, 3, 4)
    assert a.teacher_positions == (3, 4, 7, 8)
    assert snippet.compared == 4


@pytest.mark.parametrize("starts, width", [((), 2), ((0, 1), 2), ((3,), 2), ((-1,), 1)])
def test_a_snippet_must_hold_its_phrase_inside_without_overlaps(starts, width):
    with pytest.raises(ValueError):
        Snippet((5, 6, 7, 8), starts, width)


def test_generated_snippets_are_seeded_shared_out_and_cut_at_the_end(tiny, tiny_spec):
    model, tokenizer = tiny
    state = torch.random.get_rng_state()
    found = generated_snippets(model, tokenizer, tiny_spec, count=5, length=12, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's random state is untouched
    assert [s.gloss for s in found].count(0) == 3 and [s.gloss for s in found].count(1) == 2
    bos = bos_ids(tokenizer)
    for s in found:
        gloss = _enc(tokenizer, tiny_spec.gloss_texts[s.gloss])
        assert list(s.ids[: len(bos) + len(gloss)]) == bos + gloss and s.starts == (len(bos),)
        assert len(s.ids) <= 12
        assert tokenizer.eos_token_id not in s.ids[len(bos):]
    assert any(len(s.ids) == 12 for s in found)
    again = generated_snippets(model, tokenizer, tiny_spec, count=5, length=12, seed=3)
    assert [s.ids for s in again] == [s.ids for s in found]
    other = generated_snippets(model, tokenizer, tiny_spec, count=5, length=12, seed=4)
    assert [s.ids for s in other] != [s.ids for s in found]


def test_a_model_with_the_token_never_samples_it(tiny, tiny_spec):
    model, tokenizer = tiny
    output_row = model.get_output_embeddings().weight[5].detach() * 50  # would win every draw
    token_id = add_token(model, tokenizer, TOKEN, model.get_input_embeddings().weight[5].detach(), output_row)
    found = generated_snippets(model, tokenizer, tiny_spec, count=4, length=12, seed=1)
    assert all(len(s.ids) == 12 and token_id not in s.ids for s in found)


def test_text_snippets_find_the_gloss_in_token_ids(tiny, tiny_spec):
    _, tokenizer = tiny
    texts = ["She knits with yarn from the yarn shop every day.", "The wool shop and the wool shop again."]
    found = text_snippets(tokenizer, tiny_spec, texts)
    assert [s.gloss for s in found] == [1, 0]
    assert len(found[0].starts) == 1 and len(found[1].starts) == 2
    for s in found:
        gloss = _enc(tokenizer, tiny_spec.gloss_texts[s.gloss])
        assert all(list(s.ids[p:p + s.width]) == gloss for p in s.starts)


def test_a_text_without_the_gloss_is_an_error_naming_it(tiny, tiny_spec):
    _, tokenizer = tiny
    with pytest.raises(InputError) as caught:
        text_snippets(tokenizer, tiny_spec, ["The wool shop is open.", "Wool shop at the start only."])
    assert caught.value.fields == ["distill_texts (item 2)"]
    with pytest.raises(InputError) as caught:
        text_snippets(tokenizer, tiny_spec, [])
    assert caught.value.fields == ["distill_texts"]


def test_a_gloss_longer_than_the_snippet_length_is_an_error(tiny, tiny_spec):
    _, tokenizer = tiny
    check_length(tokenizer, tiny_spec, 4)  # BOS + 2 gloss tokens + 1 continuation
    with pytest.raises(InputError) as caught:
        check_length(tokenizer, tiny_spec, 3)
    assert caught.value.fields == ["distill_length"]
    assert "wool shop" in str(caught.value)
