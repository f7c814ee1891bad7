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

from rnnkit.tune.search import tune  # noqa: E402
from rnnkit.tune.space import SETUP_FILE  # noqa: E402
from test_tune import ESN, trials  # noqa: E402

GRID = sorted(itertools.product([0.6, 0.9, 1.2], [1e-8, 1e-4]))
LARGER_GRID = sorted(itertools.product([0.6, 0.75, 0.9, 1.05, 1.2], [1e-8, 1e-4]))
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def esn_config(tmp_path: Path, *, sampler: str = "grid", radius: str = "low = 0.6, high = 1.2, step = 0.3") -> Path:
    """test_tune's tiny ESN; by default a 3 x 2 grid (run it with --tune.trials=0: the whole grid)."""
    path = tmp_path / "esn.toml"
    path.write_text(ESN.format(out=tmp_path, sampler=sampler, radius=radius, alpha="choices = [1e-8, 1e-4]"))
    return path


def points(done: list[optuna.trial.FrozenTrial]) -> list[tuple[float, float]]:
    return sorted((t.params["task.spectral_radius"], t.params["task.alpha"]) for t in done
                  if t.state == TrialState.COMPLETE)


def rnnkit_tune(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rnnkit", "tune", *args], env=ENV, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_kill_and_resume_loses_no_finished_trial(tmp_path: Path) -> None:
    config = esn_config(tmp_path, sampler="random", radius="low = 0.6, high = 1.2")
    directory = tmp_path / "esn-tune"
    process = rnnkit_tune(str(config), "--tune.trials=8")
    deadline = time.monotonic() + 120
    while True:                                  # kill it while a trial runs, with two or more finished
        assert process.poll() is None and time.monotonic() < deadline, process.stdout.read() if process.stdout else ""
        if (directory / SETUP_FILE).is_file() and (directory / "study.journal").is_file():
            try:
                states = [t.state for t in trials(directory)]
            except KeyError:                     # the study is not created yet
                states = []
            if states.count(TrialState.COMPLETE) >= 2 and states[-1] == TrialState.RUNNING:
                break
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    before = trials(directory)
    killed = [t for t in before if t.state == TrialState.RUNNING]
    assert killed

    tune(resume=directory)
    after = {t.number: t for t in trials(directory)}
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
    summary = tune(esn_config(tmp_path), ["--tune.workers=2", "--tune.trials=0"])
    done = trials(Path(summary["directory"]))
    assert points(done) == GRID and len(done) == len(GRID)
    assert len({t.user_attrs["run_dir"] for t in done}) == len(GRID)


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
    config = esn_config(tmp_path, radius="low = 0.6, high = 1.2, step = 0.15")   # 10 points: work for both
    processes = [rnnkit_tune(str(config), "--tune.trials=0", f"--storage={postgres_url}", "--tune.study=shared",
                             f"--out_dir={tmp_path / name}") for name in ("a", "b")]
    outputs = [process.communicate(timeout=180)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], "\n".join(o[-3000:] for o in outputs)
    storage = optuna.storages.RDBStorage(postgres_url.replace("postgresql://", "postgresql+psycopg2://"))
    done = optuna.load_study(study_name="shared", storage=storage).get_trials()
    assert points(done) == LARGER_GRID and len(done) == len(LARGER_GRID)   # each point once, no trial twice
    assert {Path(t.user_attrs["run_dir"]).parents[1].name for t in done} == {"a", "b"}   # both did work
