"""rnnkit tune across processes: kill and resume, two workers on one embedded study, and two
processes sharing one study on a real PostgreSQL server (started here, thrown away after)."""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("optuna")

import optuna  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

from rnnkit.tune import SETUP_FILE, load_tune, tune  # noqa: E402

ESN = """
seed = 0
out_dir = "{out}/esn"

[task]
name = "chaotic_series"
train_steps = 800
valid_steps = 400
test_steps = 400
washout = 100
horizon = 20

[model]
hidden_size = 30

[train]
method = "ridge"
plots = false

[tune]
plots = false
trials = {trials}
metric = "nrmse_20"
sampler = "{sampler}"
[tune.space]
"task.spectral_radius" = {{ low = 0.6, high = 1.2{step} }}
"task.alpha" = {{ choices = [1e-8, 1e-4] }}
"""
GRID = sorted(itertools.product([0.6, 0.9, 1.2], [1e-8, 1e-4]))
LARGER_GRID = sorted(itertools.product([0.6, 0.75, 0.9, 1.05, 1.2], [1e-8, 1e-4]))
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def esn_config(tmp_path: Path, *, sampler: str = "grid", trials: int = 0, grid_step: float = 0.3) -> Path:
    path = tmp_path / "esn.toml"
    step = f", step = {grid_step}" if sampler == "grid" else ""   # a 3 x 2 grid, or a continuous radius
    path.write_text(ESN.format(out=tmp_path, sampler=sampler, trials=trials, step=step))
    return path


def study_of(directory: Path, storage: object | None = None) -> optuna.Study:
    _, spec = load_tune(directory / SETUP_FILE)
    if storage is None:
        backend = optuna.storages.journal.JournalFileBackend(str(directory / "study.journal"))
        storage = optuna.storages.JournalStorage(backend)
    return optuna.load_study(study_name=spec.study, storage=storage)


def points(trials: list[optuna.trial.FrozenTrial]) -> list[tuple[float, float]]:
    return sorted((t.params["task.spectral_radius"], t.params["task.alpha"]) for t in trials
                  if t.state == TrialState.COMPLETE)


def rnnkit_tune(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rnnkit", "tune", *args], env=ENV, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_kill_and_resume_loses_no_finished_trial(tmp_path: Path) -> None:
    config = esn_config(tmp_path, sampler="random", trials=8)
    directory = tmp_path / "esn-tune"
    process = rnnkit_tune(str(config))
    deadline = time.monotonic() + 120
    while True:                                  # kill it while a trial runs, with two or more finished
        assert process.poll() is None and time.monotonic() < deadline, process.stdout.read() if process.stdout else ""
        if (directory / SETUP_FILE).is_file() and (directory / "study.journal").is_file():
            try:
                states = [t.state for t in study_of(directory).get_trials()]
            except KeyError:                     # the study is not created yet
                states = []
            if states.count(TrialState.COMPLETE) >= 2 and states[-1] == TrialState.RUNNING:
                break
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    before = study_of(directory).get_trials()
    killed = [t for t in before if t.state == TrialState.RUNNING]
    assert killed

    tune(resume=directory)
    after = {t.number: t for t in study_of(directory).get_trials()}
    for t in before:
        if t.state == TrialState.COMPLETE:       # every finished trial is kept as it was
            assert (after[t.number].state, after[t.number].params, after[t.number].value) == \
                   (t.state, t.params, t.value)
    for t in killed:                             # a killed trial failed and ran again with its parameters
        assert after[t.number].state == TrialState.FAIL
        (retry,) = [r for r in after.values() if r.system_attrs.get("failed_trial") == t.number]
        assert retry.state == TrialState.COMPLETE and retry.params.items() >= t.params.items()
    complete = [tuple(t.params.values()) for t in after.values() if t.state == TrialState.COMPLETE]
    assert len(complete) == len(set(complete)) == 8      # the resumed sampler does not replay old points
    assert (directory / "best.toml").is_file()


def test_two_workers_on_one_embedded_study_never_run_a_trial_twice(tmp_path: Path) -> None:
    summary = tune(esn_config(tmp_path), ["--tune.workers=2"])
    trials = study_of(Path(summary["directory"])).get_trials()
    assert points(trials) == GRID and len(trials) == len(GRID)
    assert len({t.user_attrs["run_dir"] for t in trials}) == len(GRID)


def _postgres_binaries() -> tuple[str, str] | None:
    found = shutil.which("initdb"), shutil.which("pg_ctl")
    if all(found):
        return found                                                    # type: ignore[return-value]
    for bin_dir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(f"{bin_dir}/initdb"):
            return f"{bin_dir}/initdb", f"{bin_dir}/pg_ctl"
    return None


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server on a free port (as the postgres user when we are root,
    since the server refuses to run as root), with one empty database."""
    psycopg2 = pytest.importorskip("psycopg2", reason="psycopg2 is not installed (pip install psycopg2-binary)")
    binaries = _postgres_binaries()
    if binaries is None:
        pytest.skip("PostgreSQL is not installed (scripts/test.sh installs Debian's postgresql with apt-get)")
    initdb, pg_ctl = binaries
    user: dict[str, int] = {}
    root = Path(tempfile.mkdtemp(prefix="rnnkit-pg-"))
    if os.geteuid() == 0:
        import pwd

        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root, and there is no postgres user to run the server as")
        os.chown(root, account.pw_uid, account.pw_gid)
        user = {"user": account.pw_uid, "group": account.pw_gid}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = root / "data"
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, check=True, **user)
    subprocess.run([initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "--no-locale",
                    "-E", "UTF8"], **quiet)
    subprocess.run([pg_ctl, "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60", "-o",
                    f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -F", "start"], **quiet)
    try:
        connection = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
        connection.autocommit = True
        connection.cursor().execute("CREATE DATABASE rnnkit_tune")
        connection.close()
        yield f"postgresql://postgres@127.0.0.1:{port}/rnnkit_tune"
    finally:
        subprocess.run([pg_ctl, "-D", str(data), "-m", "immediate", "stop"], **{**quiet, "check": False})
        shutil.rmtree(root, ignore_errors=True)


def test_two_processes_share_one_study_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    config = esn_config(tmp_path, grid_step=0.15)         # 10 points: enough work for both processes
    processes = [rnnkit_tune(str(config), f"--storage={postgres_url}", "--tune.study=shared",
                             f"--out_dir={tmp_path / name}") for name in ("a", "b")]
    outputs = [process.communicate(timeout=180)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], "\n".join(o[-3000:] for o in outputs)
    storage = optuna.storages.RDBStorage(postgres_url.replace("postgresql://", "postgresql+psycopg2://"))
    trials = optuna.load_study(study_name="shared", storage=storage).get_trials()
    assert points(trials) == LARGER_GRID and len(trials) == len(LARGER_GRID)   # each point once, no trial twice
    assert {Path(t.user_attrs["run_dir"]).parents[1].name for t in trials} == {"a", "b"}   # both did work
