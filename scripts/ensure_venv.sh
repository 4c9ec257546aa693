#!/usr/bin/env bash
# Sourced by demo.sh and test.sh: create .venv and install clsrl with its pinned dependencies,
# again only when pyproject.toml changed. Needs Python 3.11 or 3.12 with pip and venv.
#   PYTHON=python3.11 ./demo.sh   # choose the interpreter; CLSRL_VENV=/path moves the venv
set -euo pipefail
clsrl_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
clsrl_venv="${CLSRL_VENV:-$clsrl_root/.venv}"
clsrl_python="${PYTHON:-python3}"

if ! "$clsrl_python" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] <= (3, 12)))'; then
  echo "clsrl needs Python 3.11 or 3.12; '$clsrl_python' is $("$clsrl_python" --version 2>&1)." >&2
  echo "Set PYTHON to a suitable interpreter, e.g. PYTHON=python3.11 $0" >&2
  exit 1
fi
if [ ! -x "$clsrl_venv/bin/python" ]; then
  echo "Creating the virtual environment $clsrl_venv"
  "$clsrl_python" -m venv "$clsrl_venv"
fi
clsrl_wanted=$(sha256sum "$clsrl_root/pyproject.toml" | cut -d' ' -f1)
clsrl_stamp="$clsrl_venv/.clsrl-installed"
if [ "$(cat "$clsrl_stamp" 2>/dev/null)" != "$clsrl_wanted" ]; then
  echo "Installing clsrl and its pinned dependencies into $clsrl_venv (first time: a few minutes)"
  # Some pip configurations list mirror folders that lack most packages: drop those warnings.
  "$clsrl_venv/bin/python" -m pip install --quiet --editable "$clsrl_root[dev]" 2>&1 \
    | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
  echo "$clsrl_wanted" >"$clsrl_stamp"
fi
export PATH="$clsrl_venv/bin:$PATH"
