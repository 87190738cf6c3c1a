"""TextGenerator at its edges: temperatures down to the smallest float, the first character of an
empty prompt under temperature and top-k, generation against a full forward pass, perplexity
carried across chunks, and Unicode text (combining marks, emoji, a lone surrogate, NUL, CR LF)
through fit, sample and save/load."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import rnnkit
from rnnkit.estimators import TextGenerator
from rnnkit.estimators import text_generator as text_module
from rnnkit.estimators.sampling import next_token
from rnnkit.layers.grad_mode import evaluating
from rnnkit.losses.cross_entropy import log_softmax

UNICODE = ("nai\u0308ve cafe\u0301 \U0001F600\U0001F44D\U0001F3FD \u65e5\u672c\u8a9e \r\n\t\x00 " * 30) + "end\ud800"


@pytest.fixture(scope="module")
def gen():
    text = "abcabcaabd " * 60   # counts a 4, b 3, c 2, d 1, space 1: no tie at the top
    return TextGenerator(hidden_size=16, seq_length=16, epochs=2, seed=0, verbose=False).fit(text)


@pytest.fixture(scope="module")
def uni():
    return TextGenerator(cell="gru", num_layers=2, dropout=0.2, hidden_size=16, seq_length=24, epochs=2, seed=0,
                         verbose=False).fit(UNICODE)


def _logits(g, text):
    ids = g._encode(text, "test")
    with evaluating(g.model_):
        return ids, g.model_(ids[None])[0].astype(np.float64)


# -- temperature ------------------------------------------------------------------------------
@pytest.mark.parametrize("temperature", [5e-324, 1e-320, 1e-310, 1e-300])
def test_a_tiny_temperature_is_greedy_not_nan(gen, temperature):
    z = np.array([1.0, 3.0, 2.0, -1.0])
    rng = np.random.default_rng(0)
    with np.errstate(over="raise", invalid="raise", divide="raise"):   # no overflow warning escapes
        assert [next_token(z, temperature, k, rng) for k in (None, 2, 4)] == [1, 1, 1]
    greedy = gen.sample("ab", 30, temperature=0)
    assert gen.sample("ab", 30, temperature=temperature, seed=1) == greedy


def test_tied_logits_at_a_tiny_temperature_draw_among_the_tied():
    z = np.array([2.0, 0.0, 2.0])
    draws = {next_token(z, 1e-320, None, np.random.default_rng(s)) for s in range(40)}
    assert draws == {0, 2}


@pytest.mark.parametrize("temperature", [1e300, 1e308])
def test_a_huge_temperature_is_uniform(temperature):
    z = np.array([5.0, -5.0, 0.0, 10.0])
    draws = np.bincount([next_token(z, temperature, None, np.random.default_rng(s)) for s in range(4000)],
                        minlength=4)
    assert (np.abs(draws / 4000 - 0.25) < 0.04).all(), draws


# -- the first character of an empty prompt ----------------------------------------------------
def test_an_empty_prompt_under_top_k_1_starts_greedily(gen):
    greedy = gen.sample("", 25, temperature=0)
    assert greedy[0] == gen.vocab_[int(np.argmax(gen.char_counts_))]
    assert {gen.sample("", 25, top_k=1, seed=s) for s in range(8)} == {greedy}


def test_an_empty_prompt_draws_its_first_character_with_the_temperature(gen):
    top = gen.vocab_[int(np.argmax(gen.char_counts_))]
    cold = [gen.sample("", 1, temperature=0.02, seed=s) for s in range(30)]
    assert set(cold) == {top}
    warm = {gen.sample("", 1, temperature=1.0, seed=s) for s in range(60)}
    assert len(warm) >= 3       # drawn from the character frequencies at temperature 1


def test_an_empty_prompt_with_top_k_draws_only_the_k_most_frequent(gen):
    order = np.argsort(-gen.char_counts_, kind="stable")
    allowed = {gen.vocab_[i] for i in order[:2]}
    assert gen.char_counts_[order[1]] > gen.char_counts_[order[2]]     # no tie at the 2nd value
    firsts = {gen.sample("", 1, top_k=2, temperature=5.0, seed=s)[0] for s in range(60)}
    assert firsts == allowed


def test_an_empty_prompt_is_reproducible_and_has_the_length(gen):
    a = gen.sample("", 40, temperature=0.7, top_k=3, seed=11)
    assert a == gen.sample("", 40, temperature=0.7, top_k=3, seed=11) and len(a) == 40


# -- generation and perplexity against a full forward pass --------------------------------------
def test_greedy_generation_matches_a_full_forward_pass(uni):
    prompt = "nai\u0308ve"
    text = uni.sample(prompt, 80, temperature=0)
    ids, z = _logits(uni, text[:-1])
    assert text.startswith(prompt) and len(text) == len(prompt) + 80
    assert all(int(np.argmax(z[t])) == ids[t + 1] for t in range(len(prompt) - 1, len(ids) - 1))
    assert int(np.argmax(z[-1])) == uni._encode(text[-1], "test")[0]


def test_perplexity_across_chunks_equals_one_pass(uni):
    text = UNICODE[: 3 * text_module._EVAL_CHUNK + 17]
    ids, z = _logits(uni, text[:-1])
    logp = log_softmax(z)
    one_pass = math.exp(-logp[np.arange(len(ids)), uni._encode(text[1:], "test")].mean())
    assert uni.perplexity(text) == pytest.approx(one_pass, rel=1e-5)


def test_long_generation_stays_in_the_vocabulary(gen):
    text = gen.sample("a", 3000, seed=0)
    assert len(text) == 3001 and set(text) <= set(gen.vocab_)


# -- Unicode ----------------------------------------------------------------------------------
def test_unicode_vocabulary_is_code_points(uni):
    assert uni.vocab_ == "".join(sorted(set(UNICODE)))
    for c in ("\u0308", "\u0301", "\U0001F3FD", "\x00", "\r", "\ud800", "\U0001F600"):
        assert c in uni.vocab_
    assert uni.char_counts_.sum() == len(UNICODE)
    assert uni.char_counts_[uni.vocab_.index("\U0001F600")] == 30


def test_unicode_round_trip_is_exact(tmp_path, uni):
    uni.save(tmp_path / "uni.safetensors")
    back = rnnkit.load(tmp_path / "uni.safetensors")
    assert back.vocab_ == uni.vocab_
    np.testing.assert_array_equal(back.char_counts_, uni.char_counts_)
    for prompt in ("", "\U0001F600", "cafe\u0301"):
        assert back.sample(prompt, 60, temperature=0.9, top_k=5, seed=3) == \
            uni.sample(prompt, 60, temperature=0.9, top_k=5, seed=3)
    assert back.perplexity(UNICODE[:400]) == uni.perplexity(UNICODE[:400])


def test_an_unseen_character_in_the_prompt_is_named(uni):
    with pytest.raises(ValueError, match=re.escape("not in the vocabulary learned by fit: ['\U0001F916']")):
        uni.sample("\U0001F916", 5)
