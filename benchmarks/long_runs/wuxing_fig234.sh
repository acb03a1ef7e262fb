#!/bin/bash
# The Wuxing paper's figures at its length (Fig. 2/4, then Fig. 3): one process at a time, one
# torch thread, nice 10. Every curve is checkpointed after each epoch under docs/results/<run>/checkpoints:
# to resume after a kill, run this script again (the same commands pick up after the last finished epoch).
cd "$(dirname "$0")/../.." || exit 1
export PYTHONPATH=$PWD/src OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 MKL_NUM_THREADS=1
# run inside the environment gradfree is installed in (e.g. `. .venv/bin/activate`)
echo "start $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
# the benchmark for the same configuration, measured right before the experiment (only once)
BENCH=benchmarks/results/bench_wuxing_issue25.json
[ -f "$BENCH" ] || nice -n 10 python benchmarks/bench_wuxing.py --samples 6000 --repeats 3 --out "$BENCH"
echo "fig24 start $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
nice -n 10 python -m gradfree run wuxing-mnist --seeds 1 --set parts=fig24 --set epochs=40 \
  --set n_train=60000 --set n_test=10000 --out docs/results/wuxing-fig24-full --no-progress || exit 1
echo "fig3 start $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
nice -n 10 python -m gradfree run wuxing-mnist --seeds 1 --set parts=fig3 --set mlp_epochs=40 \
  --set n_train=60000 --set n_test=10000 --out docs/results/wuxing-fig3-full --no-progress || exit 1
echo "done $(date -u +%FT%TZ)"
