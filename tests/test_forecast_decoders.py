"""Seq2seq and autoregressive forecasters: against hand-unrolled loops, teacher forcing, the task."""

from __future__ import annotations

import pytest
import torch

from rnnkit import GRUCell, LSTMCell, Recurrent, Stacked
from rnnkit.config import ModelConfig
from rnnkit.forecast.synthetic import synthetic_panel
from rnnkit.models.forecast_decoders import AutoregressiveForecaster, Seq2SeqForecaster
from rnnkit.models.likelihoods import to_params
from rnnkit.runs.configs import load_config
from rnnkit.tasks import build_task
from rnnkit.tasks.forecasting.backtest import predict
from rnnkit.tasks.forecasting.task import Forecasting

B, L, K, F = 3, 5, 4, 2


def inputs() -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(B, L, 1 + F + 1, dtype=torch.float64)         # value, 2 known-future, 1 past-only
    return x, torch.randn(B, K, F, dtype=torch.float64)


@pytest.mark.parametrize("output", ["gaussian", "student_t", "quantile"])
def test_autoregressive_rollout_matches_a_hand_unrolled_loop(output):
    cell = LSTMCell(1 + F, 6)
    model = AutoregressiveForecaster(Stacked([Recurrent(cell)]), K, output=output, future_size=F).double().eval()
    x, future = inputs()
    params = model(x, future)
    # by hand: step t reads (value_t, known_{t+1}); after the window, its own point forecast
    known_next = torch.cat([x[:, 1:, 1:1 + F], future[:, :1]], dim=1)
    state = cell.initial_state(x)
    for t in range(L):
        h, state = cell.step(torch.cat([x[:, t, :1], known_next[:, t]], dim=-1), state)
    expected = []
    for k in range(K):
        p = to_params(model.head(h), output)
        expected.append(p)
        fed = p[:, 1] if output == "quantile" else p[:, 0]
        if k + 1 < K:
            h, state = cell.step(torch.cat([fed[:, None], future[:, k + 1]], dim=-1), state)
    torch.testing.assert_close(params, torch.stack(expected, dim=1))
    # teacher forcing on the rollout's own points is the rollout
    torch.testing.assert_close(model(x, future, model.point(params)), params)


def test_autoregressive_targets_only_reach_later_steps():
    model = AutoregressiveForecaster(Stacked([Recurrent(GRUCell(1 + F, 6))]), K, future_size=F).double()
    x, future = inputs()
    targets = torch.randn(B, K, dtype=torch.float64, requires_grad=True)
    params = model(x, future, targets)
    grad, = torch.autograd.grad(params[:, 2, 0].sum(), targets)
    assert (grad[:, :2] != 0).all() and (grad[:, 2:] == 0).all()      # step 2 reads targets 0 and 1 only


def test_sample_paths_feed_back_their_own_draws():
    model = AutoregressiveForecaster(Stacked([Recurrent(GRUCell(1 + F, 6))]), K, future_size=F).double().eval()
    x, future = inputs()
    torch.manual_seed(1)
    paths = model.sample(x, future, 7)
    assert paths.shape == (B, 7, K) and paths.std(dim=1).min() > 0
    torch.manual_seed(1)
    torch.testing.assert_close(model.sample(x, future, 7), paths)


def test_seq2seq_matches_a_hand_unrolled_decoder():
    encoder_cell, decoder_cell = GRUCell(1 + F + 1, 6), GRUCell(F + K, 6)
    model = Seq2SeqForecaster(Stacked([Recurrent(encoder_cell)]), Stacked([Recurrent(decoder_cell)]), K,
                              future_size=F).double()
    x, future = inputs()
    state = encoder_cell.initial_state(x)
    for t in range(L):
        _, state = encoder_cell.step(x[:, t], state)
    expected = []
    for k in range(K):
        step = torch.zeros(B, K, dtype=torch.float64)
        step[:, k] = 1
        h, state = decoder_cell.step(torch.cat([future[:, k], step], dim=-1), state)
        expected.append(to_params(model.head(h), "gaussian"))
    torch.testing.assert_close(model(x, future), torch.stack(expected, dim=1))
    changed = future.clone()
    changed[:, -1] += 1
    torch.testing.assert_close(model(x, changed)[:, :-1], model(x, future)[:, :-1])   # step k reads future k only


@pytest.mark.parametrize("forecaster", ["seq2seq", "autoregressive"])
def test_task_trains_and_predicts_with_each_decoder(tmp_path, forecaster):
    synthetic_panel(series=3, length=50, seed=5).to_csv(tmp_path / "p.csv", index=False)
    task = Forecasting(data=str(tmp_path / "p.csv"), input_size=12, horizon=6, forecaster=forecaster,
                       samples=20 if forecaster == "autoregressive" else 0)
    data = task.load()
    model = task.build_model(ModelConfig(hidden_size=8), task.describe(data))
    loss, _ = task.loss(model, data.train, None)
    loss.backward()
    assert set(task.evaluate(model, [data.valid])) == {"mae", "rmse", "coverage"}
    forecasts = predict(model, task, task.panel())
    assert all(len(f.point) == 6 and (f.lower <= f.upper).all() for f in forecasts)
    cfg = load_config("configs/forecast_lstm.toml", [f"--task.forecaster={forecaster}"])
    assert build_task(cfg.task).forecaster == forecaster


def test_decoder_config_errors(tmp_path):
    table = synthetic_panel(series=2, length=50).assign(temp=1.0)
    table.to_csv(tmp_path / "c.csv", index=False)
    task = Forecasting(data=str(tmp_path / "c.csv"), input_size=12, horizon=6, forecaster="autoregressive")
    with pytest.raises(ValueError, match="1 past-only covariate column"):
        task.build_model(ModelConfig(hidden_size=8), task.describe(task.load()))
    with pytest.raises(ValueError, match="bidirectional = false"):
        Forecasting(data=str(tmp_path / "c.csv"), input_size=12, horizon=6, forecaster="seq2seq").build_model(
            ModelConfig(hidden_size=8, bidirectional=True), task.describe(task.load()))
    with pytest.raises(ValueError, match="task.samples"):
        Forecasting(samples=10)
