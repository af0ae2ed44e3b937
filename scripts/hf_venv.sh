#!/usr/bin/env bash
# Creates .venv-hf/, the Python environment of the Hugging Face reference scripts
# (scripts/hf_minilm_parity.py, scripts/hf_finetune_mrpc.py).
#
# --system-site-packages reuses Debian's PyTorch 1.13 (python3-torch) instead of pulling a 700 MB wheel;
# transformers is pinned to 4.40.2, the newest line that still supports torch 1.13 (4.41+ warn, later
# releases require torch >= 2). Re-running is safe: an existing .venv-hf is reused and the pins re-checked.
#
# Usage: bash scripts/hf_venv.sh            then   .venv-hf/bin/python scripts/hf_minilm_parity.py ...
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo_root/.venv-hf"
# Debian's interpreter, not a pyenv/conda python3 first on PATH: only it sees python3-torch.
system_python="${BERTFIT_SYSTEM_PYTHON:-/usr/bin/python3}"

if ! "$system_python" -c 'import torch' 2>/dev/null; then
  echo "hf_venv.sh: $system_python cannot import torch; install Debian's python3-torch (apt-get install python3-torch)" >&2
  exit 1
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "creating $venv (system site-packages: torch $("$system_python" -c 'import torch; print(torch.__version__)'))"
  "$system_python" -m venv --system-site-packages "$venv"
fi

# tokenizers 0.19 and safetensors 0.4 are what transformers 4.40.2 asks for; huggingface-hub < 0.24 keeps
# from_pretrained's offline code path the one 4.40 was tested with.
"$venv/bin/python" -m pip install --quiet \
  'transformers==4.40.2' 'tokenizers>=0.19,<0.20' 'safetensors>=0.4.1,<0.5' 'huggingface-hub>=0.19.3,<0.24'

"$venv/bin/python" - <<'EOF'
import torch, transformers, tokenizers, safetensors
print(f"ok: torch {torch.__version__}, transformers {transformers.__version__}, "
      f"tokenizers {tokenizers.__version__}, safetensors {safetensors.__version__}")
EOF
