#!/bin/bash
# Commit the long runs' current per-epoch checkpoints on the current branch, as a consistent snapshot:
# every staged progress.json must name a staged model whose JSON has the SHA-256 it records (an epoch
# that ends while `git add` runs could otherwise pair a new progress file with the old model, and a
# resume would then start that curve over). Retries until the snapshot is consistent.
cd "$(dirname "$0")/../.." || exit 1
RUNS=$(ls -d docs/results/wuxing-fig24-full docs/results/wuxing-fig3-full 2>/dev/null)
[ -n "$RUNS" ] || { echo "no run folders"; exit 1; }
if git diff --cached --name-only | grep -v -e '^docs/results/wuxing-fig24-full/' -e '^docs/results/wuxing-fig3-full/' | grep -q .; then
  echo "other changes are staged; commit or unstage them first"; exit 1
fi
for try in 1 2 3 4 5 6 7 8 9 10; do
  git add -A $RUNS
  if python - $RUNS <<'PY'
import hashlib, json, subprocess, sys
staged = set(subprocess.run(["git", "ls-files", "--", *sys.argv[1:]], capture_output=True, text=True,
                            check=True).stdout.split())
bad = []
for p in sorted(f for f in staged if f.endswith("/progress.json")):
    payload = json.loads(subprocess.run(["git", "show", f":{p}"], capture_output=True, check=True).stdout)["payload"]
    d = p.rsplit("/", 1)[0]
    model = f"{d}/{payload['model']}"
    if f"{model}.safetensors" not in staged or f"{model}.json" not in staged:
        bad.append(f"{p}: {payload['model']} not staged"); continue
    blob = subprocess.run(["git", "show", f":{model}.json"], capture_output=True, check=True).stdout
    if hashlib.sha256(blob).hexdigest() != payload["model_sha256"]:
        bad.append(f"{p}: {payload['model']}.json does not match")
    else:
        print(f"{p}: {len(payload['rows'])} epochs, last test {payload['rows'][-1]['test']:.4f}")
print("\n".join(bad) or "consistent")
sys.exit(1 if bad else 0)
PY
  then
    # the index as checked (a pathspec here would re-read the working tree)
    git commit -qm "Wuxing long runs (Fig. 2/4, Fig. 3 at the paper's length): per-epoch checkpoints as of $(date -u +%FT%TZ)" \
      && git log --oneline | head -1
    exit 0
  fi
  git reset -q -- $RUNS; sleep 5
done
echo "could not take a consistent snapshot"; exit 1
