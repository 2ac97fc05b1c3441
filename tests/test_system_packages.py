"""scripts/system-packages on a machine that lacks packages, simulated: dpkg-query, id, apt-get and sudo are small
stand-ins on PATH, so the test runs anywhere and installs nothing."""

import subprocess
import warnings
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "system-packages"
RUN_PACKAGES = ["libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0", "fonts-dejavu-core"]


@pytest.fixture
def machine(tmp_path):
    """A PATH with only the tools the script needs, and a way to add stand-ins."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "grep", "env", "cat"):
        (bin_dir / tool).symlink_to(subprocess.check_output(["bash", "-c", f"command -v {tool}"], text=True).strip())

    def tool(name: str, body: str) -> None:
        path = bin_dir / name
        path.write_text(f"#!{bin_dir / 'bash'}\n{body}\n")
        path.chmod(0o755)

    def run(*args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(bin_dir / "bash"), str(SCRIPT), *args],
            env={"PATH": str(bin_dir), **env},
            capture_output=True,
            text=True,
            timeout=30,
        )

    tool.run = run
    tool.log = tmp_path / "calls.log"
    return tool


def installed(*packages: str) -> str:
    """A dpkg-query stand-in that knows these packages as installed and no others."""
    lines = "".join(f'echo "{package} installed"; ' for package in packages)
    return f"{lines}exit 1"


def test_without_root_sudo_or_apt_it_stops_with_one_line_naming_the_packages_and_the_command(machine):
    machine("dpkg-query", installed("fonts-dejavu-core"))
    machine("id", "echo 1000")

    result = machine.run("run")

    assert result.returncode == 1
    missing = "libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0"
    assert result.stderr == (
        f"Missing Debian packages: {missing}. No apt-get here; install them with: sudo apt-get install {missing}\n"
    )


def test_not_root_and_no_sudo_it_stops_with_one_line(machine):
    machine("dpkg-query", installed())
    machine("id", "echo 1000")
    machine("apt-get", f'echo "apt-get $*" >> {machine.log}')

    result = machine.run("run")

    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1
    assert "Not root and no usable sudo" in result.stderr
    assert f"sudo apt-get install {' '.join(RUN_PACKAGES)}" in result.stderr
    assert not machine.log.exists()


def test_as_root_it_installs_only_the_missing_packages_without_questions(machine):
    machine("dpkg-query", installed("libpango-1.0-0", "libpangoft2-1.0-0"))
    machine("id", "echo 0")
    machine("apt-get", f'echo "DEBIAN_FRONTEND=$DEBIAN_FRONTEND apt-get $*" >> {machine.log}')

    result = machine.run("run")

    assert result.returncode == 0, result.stderr
    assert machine.log.read_text().splitlines() == [
        "DEBIAN_FRONTEND= apt-get update -qq",
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
        "libharfbuzz-subset0 fonts-dejavu-core",
    ]


def test_as_a_user_it_installs_through_sudo(machine):
    machine("dpkg-query", installed(*RUN_PACKAGES))
    machine("id", "echo 1000")
    machine("sudo", f'echo "sudo $*" >> {machine.log}')
    machine("apt-get", "exit 0")

    result = machine.run("test")

    assert result.returncode == 0, result.stderr
    calls = machine.log.read_text().splitlines()
    assert calls[0] == "sudo -n true"
    assert calls[-2:] == [
        "sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
        "poppler-utils zbar-tools libatomic1 gettext",
        "sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium",
    ]


NO_CHROMIUM = (
    "chromium is not available from apt here: the browser tests will be skipped; install Chromium and set "
    "CHROMIUM_PATH to its executable (default /usr/bin/chromium)"
)


def test_where_apt_has_no_chromium_it_says_so_in_one_line_and_goes_on(machine):
    """Ubuntu has no chromium deb (a snap stands in its place): `make test` must still run, without browser."""
    machine("dpkg-query", installed(*RUN_PACKAGES))
    machine("id", "echo 0")
    machine(
        "apt-get",
        f'echo "apt-get $*" >> {machine.log}\n'
        'case "$*" in *chromium*) echo "E: Package \'chromium\' has no installation candidate" >&2; exit 100;; esac',
    )

    result = machine.run("test")

    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1] == NO_CHROMIUM
    assert "has no installation candidate" not in result.stderr
    assert machine.log.read_text().splitlines()[1] == (
        "apt-get install -y -qq --no-install-recommends poppler-utils zbar-tools libatomic1 gettext"
    )


def test_without_apt_get_a_missing_chromium_alone_is_one_line_not_a_stop(machine):
    machine("dpkg-query", installed(*RUN_PACKAGES, "poppler-utils", "zbar-tools", "libatomic1", "gettext"))
    machine("id", "echo 1000")

    result = machine.run("test")

    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        NO_CHROMIUM.replace("is not available from apt here", "is not installed and there is no apt-get here")
    ]


def python3(prefix: str, minor: int = 11) -> str:
    """A python3 stand-in answering the script's question as a Python installed under `prefix` would."""
    return f'[ "{prefix}" = /usr ] && echo "python3.{minor}-venv"; exit 0'


def test_debians_own_python_gets_its_venv_package_so_make_run_can_make_the_venv(machine):
    """Without python3.X-venv, `python3 -m venv .venv` fails half-way (no ensurepip)."""
    machine("dpkg-query", installed(*RUN_PACKAGES))
    machine("id", "echo 0")
    machine("python3", python3("/usr", minor=12))
    machine("apt-get", f'echo "apt-get $*" >> {machine.log}')

    result = machine.run("run")

    assert result.returncode == 0, result.stderr
    assert machine.log.read_text().splitlines()[-1] == (
        "apt-get install -y -qq --no-install-recommends python3.12-venv"
    )


def test_a_python_not_from_debian_brings_its_own_ensurepip(machine):
    machine("dpkg-query", installed(*RUN_PACKAGES))
    machine("id", "echo 0")
    machine("python3", python3("/usr/local"))
    machine("apt-get", f'echo "apt-get $*" >> {machine.log}')

    result = machine.run("run")

    assert (result.returncode, result.stderr) == (0, "")
    assert not machine.log.exists()


def test_when_apt_get_fails_it_stops_with_one_line(machine):
    machine("dpkg-query", installed())
    machine("id", "echo 0")
    machine("apt-get", 'echo "E: Unable to locate package" >&2; exit 100')

    result = machine.run("run")

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("Missing Debian packages: libpango-1.0-0")
    assert "apt-get could not install them" in result.stderr


def test_nothing_missing_means_nothing_to_do(machine):
    machine("dpkg-query", installed(*RUN_PACKAGES))
    machine("id", "echo 1000")

    result = machine.run("run", SINERGI_SYSTEM_PACKAGES="check")

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_a_missing_harfbuzz_subset_is_no_error_under_the_suites_warning_filters():
    """WeasyPrint warns at import when libharfbuzz-subset0 is missing; with `filterwarnings = error` that warning
    once turned every test module that imports WeasyPrint into a collection error. Rendering only gets slower."""
    warnings.warn(
        "HarfBuzz-Subset will be required by future versions of WeasyPrint. "
        "Please install this library with your package manager.",
        category=DeprecationWarning,
        stacklevel=1,
    )
