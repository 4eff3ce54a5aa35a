"""Runs a command against a fresh gattwayd: `run_with_gattwayd.py [gattwayd flags --] cmd...`.
The command gets the gateway's address in GATTWAY_ADDRESS; its exit code is ours."""
import os
import subprocess
import sys

from gattway_e2e import Gattwayd


def main(argv):
    flags, cmd = ([], argv)
    if "--" in argv:
        i = argv.index("--")
        flags, cmd = argv[:i], argv[i + 1:]
    with Gattwayd(*flags) as g:
        env = dict(os.environ, GATTWAY_ADDRESS=g.address)
        code = subprocess.call(cmd, env=env)
        if code != 0:
            print("--- gattwayd log ---\n" + g.log_text(), file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
