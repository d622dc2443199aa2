# Sourced by scripts/run and scripts/test: create .venv and install truesli into it (idempotent).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TRUESLI_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.truesli-installed"
extras="${TRUESLI_EXTRAS:-}"
# The stamp is "<pyproject.toml hash> <extras installed>". Extras are a superset: after scripts/test
# (extras "test") scripts/run (no extras) needs nothing, so alternating them does not reinstall.
hash="$(sha256sum < "$ROOT/pyproject.toml" | cut -d' ' -f1)"
have_hash="" have_extras=""
[ -f "$stamp" ] && read -r have_hash have_extras < "$stamp" || true
if [ "$have_hash" != "$hash" ] || { [ -n "$extras" ] && [ "$have_extras" != "$extras" ]; }; then
  # setuptools prints a boxed "Editable installation" warning on every editable install: it is about
  # same-named folders in the working directory, which the editable finder here does not have.
  export PYTHONWARNINGS="ignore:Editable installation"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e "$ROOT${extras:+[$extras]}"
  unset PYTHONWARNINGS
  echo "$hash $extras" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
