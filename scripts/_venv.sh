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
want="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)-$extras"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e "$ROOT${extras:+[$extras]}"
  echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
