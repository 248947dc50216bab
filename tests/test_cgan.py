"""The conditional StyleGAN digital twin of seed 000 (``algos/cgan.py``, spec §5.2-§5.4).

Shapes for vector and image data, the gradient penalty against hand-computed values, config
validation, one `train_step` of each of the four losses, and a conditional WGAN-GP that learns a
toy conditional Gaussian. XLA:CPU compile time dominates here (~6-8 s per `init` or `train_step`
program on 2 cores even with `FAST_COMPILE`), so shapes are checked with `jax.eval_shape` where
values are not needed, the toy problem compiles one `init` and one `train_step` per loss, shared
by the four-loss test and the learning test, and the image check is one small program.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from algos import cgan

# XLA optimisation level 0 as in test_train.py, and XLA:CPU's older loop emitters instead of the
# MLIR fusion emitters: measured 19 s -> 8 s to compile one tiny `train_step` (jax 0.10.2).
FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_cpu_use_fusion_emitters": False}
# A small vector model (2 heads, width 16); the mapping keeps its cross-attention block (the only
# path from c to the style w), G's and D's transformer layers are dropped to shorten the programs.
TINY = dict(z_dim=8, z_tokens=2, w_dim=16, width=16, heads=2, c_tokens=2, map_layers=1, g_layers=0, d_layers=0)


# ---- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, needle", [
    ({"loss": "hinge"}, "loss='hinge'"),
    ({"consistency": "l1"}, "consistency='l1'"),
    ({"z_dim": 30, "z_tokens": 4}, "z_dim=30 must be a multiple of z_tokens=4"),
    ({"width": 30, "heads": 4}, "width=30 must be a multiple of heads=4"),
    ({"n_critic": 0}, "n_critic=0"),
    ({"x_shape": (4, 4)}, "x_shape"),
    ({"x_shape": (6, 6, 1)}, "divisible by 2\\*\\*upsamples=4"),
    ({"c_shape": (2, 3, 4)}, "c_shape"),
])
def test_config_rejects_bad_values(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        cgan.GANConfig(**kwargs)


def test_config_defaults_and_init_fill_shapes():
    cfg = cgan.GANConfig()
    assert cfg.loss in cgan.LOSSES and cfg.x_shape == () and hash(cfg) == hash(cgan.GANConfig())
    state = jax.eval_shape(lambda k: cgan.init(k, cfg, jnp.zeros((8, 8, 1)), jnp.zeros(10)), jax.random.PRNGKey(0))
    assert state.cfg.x_shape == (8, 8, 1) and state.cfg.c_shape == (10,)
    assert state.cfg.is_image and state.cfg.c_dim == 10
    with pytest.raises(ValueError, match="divisible"):  # init validates the example shapes too
        jax.eval_shape(lambda k: cgan.init(k, cfg, jnp.zeros((6, 8, 1)), jnp.zeros(10)), jax.random.PRNGKey(0))


# ---- shapes ---------------------------------------------------------------------------------------


def _forward(cfg, x_example, c_batch):
    """``key -> (G(z, c), D(x, c), C(x))`` for a fresh model, as one function (traced, not run)."""

    def fn(key):
        k_init, k_gen = jax.random.split(key)
        params = cgan.init(k_init, cfg, x_example, c_batch[0]).params
        x = cgan.generate(params, k_gen, c_batch)
        return x, cgan.critic(params, x, c_batch), cgan.predict_condition(params, x)

    return fn


@pytest.mark.parametrize("c_shape", [(5,), (3, 4)], ids=["flat-c", "tokenised-c"])
def test_vector_shapes(c_shape):
    """x dim 7 with a flat condition of 5 or pre-tokenised ``[m_c=3, f=4]`` conditions, default sizes."""
    batch = 6
    x, d, c_pred = jax.eval_shape(_forward(cgan.GANConfig(), jnp.zeros(7), jnp.zeros((batch, *c_shape))),
                                  jax.random.PRNGKey(0))
    assert x.shape == (batch, 7) and d.shape == (batch,) and c_pred.shape == (batch, int(np.prod(c_shape)))


def test_image_shapes_and_range():
    """8x8x1 images with one-hot labels of 10 classes (the digits benchmark): shapes with the default
    sizes; with small sizes, run: tanh range, finite scores, G depends on both z and c at init."""
    c = jax.nn.one_hot(jnp.arange(10), 10)
    x_example = jnp.zeros((8, 8, 1))
    shapes = jax.eval_shape(_forward(cgan.GANConfig(consistency="ce"), x_example, c), jax.random.PRNGKey(0))
    assert [s.shape for s in shapes] == [(10, 8, 8, 1), (10,), (10, 10)]
    cfg = cgan.GANConfig(consistency="ce", **TINY)

    def run(key):
        k_init, k_gen = jax.random.split(key)
        params = cgan.init(k_init, cfg, x_example, c[0]).params
        x = cgan.generate(params, k_gen, c)
        other_c = cgan.generate(params, k_gen, c[::-1])  # same z, reversed labels
        return x, cgan.critic(params, x, c), cgan.predict_condition(params, x), other_c

    run = jax.jit(run, compiler_options=FAST_COMPILE)
    x, d, logits, x_rev = map(np.asarray, run(jax.random.PRNGKey(0)))
    assert x.shape == (10, 8, 8, 1) and d.shape == (10,) and logits.shape == (10, 10)
    assert np.all(np.abs(x) <= 1.0) and np.isfinite(d).all() and np.isfinite(logits).all()
    assert x.std(axis=0).mean() > 1e-3  # different z -> different images
    assert np.abs(x - x_rev).mean() > 1e-4  # same z, other label -> other image


# ---- gradient penalty (eq. 18 on interpolates) --------------------------------------------------------


@pytest.mark.parametrize("norm", [1.0, 3.0, 0.5])
def test_gradient_penalty_linear_critic(norm):
    """D(x) = <w, x>: grad = w everywhere, so GP = (||w|| - 1)^2 whatever the interpolates."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 4, 2)).astype(np.float32)
    w *= norm / np.linalg.norm(w)
    x_real = jnp.asarray(rng.normal(size=(5, 4, 4, 2)), jnp.float32)
    x_fake = jnp.asarray(rng.normal(size=(5, 4, 4, 2)), jnp.float32)
    eps = jnp.linspace(0.0, 1.0, 5)
    critic = lambda x: jnp.sum(x * w, axis=(1, 2, 3))  # noqa: E731
    gp = cgan.gradient_penalty(critic, x_real, x_fake, eps)
    np.testing.assert_allclose(float(gp), (norm - 1.0) ** 2, rtol=1e-5, atol=1e-6)


def test_gradient_penalty_quadratic_critic_by_hand():
    """D(x) = ||x||^2 / 2: grad = x_bar = eps x + (1 - eps) x_hat, per sample.

    sample 0: eps 0.5,  x = (2, 0), x_hat = (0, 0) -> x_bar = (1, 0), ||.|| = 1 -> 0
    sample 1: eps 0.25, x = (0, 0), x_hat = (0, 4) -> x_bar = (0, 3), ||.|| = 3 -> 4
    sample 2: eps 1.0,  x = (3, 4), x_hat = (9, 9) -> x_bar = (3, 4), ||.|| = 5 -> 16
    GP = (0 + 4 + 16) / 3."""
    x_real = jnp.array([[2.0, 0.0], [0.0, 0.0], [3.0, 4.0]])
    x_fake = jnp.array([[0.0, 0.0], [0.0, 4.0], [9.0, 9.0]])
    eps = jnp.array([0.5, 0.25, 1.0])
    gp = cgan.gradient_penalty(lambda x: 0.5 * jnp.sum(x**2, axis=-1), x_real, x_fake, eps)
    np.testing.assert_allclose(float(gp), 20.0 / 3.0, rtol=1e-6)
    # eps = 0 puts x_bar on the fake sample: sample 2 -> (9, 9), ||.|| = 9 sqrt 2
    gp0 = cgan.gradient_penalty(lambda x: 0.5 * jnp.sum(x**2, axis=-1), x_real, x_fake, jnp.zeros(3))
    np.testing.assert_allclose(float(gp0), ((0 - 1) ** 2 + (4 - 1) ** 2 + (9 * 2**0.5 - 1) ** 2) / 3, rtol=1e-6)


def test_gradient_penalty_is_per_sample():
    """A critic whose samples have different slopes: D(x)_i = a_i * sum(x_i). Per-sample norms
    |a_i| sqrt(d) are averaged after the square, not pooled over the batch."""
    a = jnp.array([1.0, 2.0])
    gp = cgan.gradient_penalty(lambda x: a * x.sum(-1), jnp.ones((2, 4)), jnp.zeros((2, 4)), jnp.array([0.3, 0.7]))
    np.testing.assert_allclose(float(gp), ((2.0 - 1) ** 2 + (4.0 - 1) ** 2) / 2, rtol=1e-6)


# ---- one train_step per loss, and learning ---------------------------------------------------------
# Both use one toy problem and one compiled `train_step` per loss (module-level jits, so the learning
# test reuses the cwgan_gp program), and one compiled `init`: the states of the other losses are built
# from its parameters (`with_loss`), which is what `init` would return for them with the same key.

MIXING = jnp.array([[1.0, -0.5], [0.5, 1.0], [-1.0, 0.0]])  # mu(c) = M c, x ~ N(mu(c), 0.1^2 I_3)
BATCH = 32
TOY = cgan.GANConfig(loss="cwgan_gp", consistency="mse", n_critic=2, lr_g=1e-3, lr_d=2e-3, lr_aux=3e-3, rho_ce=5.0,
                     **TINY)
INIT = jax.jit(cgan.init, static_argnums=1, compiler_options=FAST_COMPILE)
STEP = jax.jit(cgan.train_step, compiler_options=FAST_COMPILE)


def toy_batch(rng, n=BATCH):
    """``c ~ U[-1, 1]^2``, ``x ~ N(M c, 0.1^2 I_3)`` (numpy, so drawing data compiles nothing)."""
    c = rng.uniform(-1.0, 1.0, size=(n, 2)).astype(np.float32)
    return (c @ np.asarray(MIXING).T + 0.1 * rng.normal(size=(n, 3))).astype(np.float32), c


@pytest.fixture(scope="module")
def toy_state():
    return INIT(jax.random.PRNGKey(0), TOY, jnp.zeros(3), jnp.zeros(2))


def with_loss(state: cgan.GANState, loss: str) -> cgan.GANState:
    """`init`'s state for ``loss`` from the parameters of ``state`` (same sizes and key): the
    parameters do not depend on the loss, except WGAN's clipped critic and the optimisers."""
    cfg = dataclasses.replace(state.cfg, loss=loss)
    params = state.params.replace(cfg=cfg)
    if loss == "wgan":
        params = params.replace(discriminator=cgan.clip_weights(params.discriminator, cfg.clip))
    tx_g, tx_d, tx_aux = cgan.optimizers(cfg)
    return cgan.GANState(params, tx_g.init(params.generator), tx_d.init(params.discriminator),
                         tx_aux.init(params.aux), state.step)


def _leaves(tree):
    return [np.asarray(p) for p in jax.tree_util.tree_leaves(tree)]


def test_with_loss_matches_init(toy_state):
    """`with_loss` reproduces `init`: exactly for the loss the parameters came from, and in structure
    (RMSProp instead of Adam) for WGAN."""
    same = with_loss(toy_state, TOY.loss)
    assert jax.tree_util.tree_structure(same) == jax.tree_util.tree_structure(toy_state)
    for a, b in zip(_leaves(same), _leaves(toy_state)):
        np.testing.assert_array_equal(a, b)
    wgan = dataclasses.replace(TOY, loss="wgan")
    ref = jax.eval_shape(lambda k: cgan.init(k, wgan, jnp.zeros(3), jnp.zeros(2)), jax.random.PRNGKey(0))
    got = with_loss(toy_state, "wgan")
    assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(ref)
    assert [a.shape for a in jax.tree_util.tree_leaves(got)] == [a.shape for a in jax.tree_util.tree_leaves(ref)]


def test_all_losses_one_train_step(toy_state):
    """minimax / wgan / wgan_gp / cwgan_gp: one `train_step` each from the same parameters and keys;
    finite metrics, and the loss-specific parts (eqs. 15-19) where they can be checked exactly."""
    x, c = map(jnp.asarray, toy_batch(np.random.default_rng(1)))
    key = jax.random.PRNGKey(1)
    out, new = {}, {}
    for loss in cgan.LOSSES:
        state = with_loss(toy_state, loss)
        new[loss], metrics = STEP(state, key, x, c)
        out[loss] = {k: float(v) for k, v in metrics.items()}
        assert all(np.isfinite(v) for v in out[loss].values()), (loss, out[loss])
        assert int(new[loss].step) == 1
        g_moved = max(np.abs(a - b).max() for a, b in zip(_leaves(new[loss].params.generator),
                                                           _leaves(state.params.generator)))
        assert g_moved > 0, loss
        aux_moved = max(np.abs(a - b).max() for a, b in zip(_leaves(new[loss].params.aux), _leaves(state.params.aux)))
        # C is trained online only by cwgan_gp with the "mse" consistency (A27)
        assert (aux_moved > 0) == (loss == "cwgan_gp"), (loss, aux_moved)
        assert (out[loss]["aux_loss"] > 0) == (loss == "cwgan_gp")
    assert out["minimax"]["gp"] == 0.0 and out["wgan"]["gp"] == 0.0
    assert out["minimax"]["d_loss"] > 0  # two softplus terms
    assert max(np.abs(p).max() for p in _leaves(new["wgan"].params.discriminator)) <= TOY.clip + 1e-7
    assert out["wgan"]["d_loss"] == pytest.approx(-out["wgan"]["wasserstein"], abs=1e-7)
    assert out["wgan_gp"]["gp"] > 0
    assert out["wgan_gp"]["d_loss"] == pytest.approx(-out["wgan_gp"]["wasserstein"] + TOY.rho_gp * out["wgan_gp"]["gp"],
                                                     rel=1e-5)
    # wgan_gp and cwgan_gp make the same critic updates; G's losses differ by exactly rho_CE * L_cons (eq. 19)
    for k in ("d_loss", "gp", "wasserstein", "consistency"):
        np.testing.assert_allclose(out["cwgan_gp"][k], out["wgan_gp"][k], rtol=1e-5)
    np.testing.assert_allclose(out["cwgan_gp"]["g_loss"] - out["wgan_gp"]["g_loss"],
                               TOY.rho_ce * out["cwgan_gp"]["consistency"], rtol=1e-4, atol=1e-6)


C_EVAL = np.random.default_rng(123).uniform(-1.0, 1.0, size=(32, 2)).astype(np.float32)


@jax.jit
def conditional_errors(params, key):
    """RMS error of G's conditional mean over 32 samples for each of 32 held-out conditions, and the
    RMS spread of those samples around their mean (true: 0 and 0.1)."""
    x = cgan.generate(params, key, jnp.repeat(C_EVAL, 32, axis=0)).reshape(32, 32, 3)
    mean_err = jnp.sqrt(jnp.mean((x.mean(1) - C_EVAL @ MIXING.T) ** 2))
    return mean_err, jnp.sqrt(jnp.mean(x.var(1)))


def test_cwgan_gp_learns_toy_conditional_mean(toy_state):
    """cwgan_gp with the online "mse" consistency net on x ~ N(M c, 0.1^2), c ~ U[-1, 1]^2: after 150
    jitted `train_step`s the error of G's conditional mean falls to well under half the untrained G's
    and clearly under that of the best unconditional G (the marginal mean 0, error ~0.6), the spread
    of G's samples shrinks from ~0.55 towards the true 0.1, and C learns to regress c.

    Measured (init seeds 0-3, this data): mean error 0.83-1.23 -> 0.28-0.32, spread 0.54-0.63 ->
    0.11-0.16, C's loss 0.08-0.15 -> 0.007."""
    rng = np.random.default_rng(0)
    keys = jax.random.split(jax.random.PRNGKey(2), 150)
    eval_key = jax.random.PRNGKey(3)
    err0, spread0 = map(float, conditional_errors(toy_state.params, eval_key))
    state, aux_losses = toy_state, []
    for k in keys:
        x, c = toy_batch(rng)
        state, metrics = STEP(state, k, x, c)
        aux_losses.append(metrics["aux_loss"])
    assert all(np.isfinite(float(v)) for v in metrics.values()), metrics
    err1, spread1 = map(float, conditional_errors(state.params, eval_key))
    unconditional = float(np.sqrt(np.mean((C_EVAL @ np.asarray(MIXING).T) ** 2)))  # G(z, c) = 0
    assert err0 > 0.6 and err1 < 0.5 * err0 and err1 < 0.7 * unconditional, (err0, err1, unconditional)
    assert spread0 > 0.4 and 0.05 < spread1 < 0.25, (spread0, spread1)
    aux = np.asarray(aux_losses)
    assert aux[-30:].mean() < 0.2 * aux[:10].mean(), aux  # the online consistency net C learns c from x
