"""`python -m mmeval.catalog --out suites/data`: regenerate the committed suite data."""

from __future__ import annotations

import argparse
from pathlib import Path

from .write import write_suite_data


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m mmeval.catalog", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("suites/data"), help="folder that gets ecommerce/")
    args = parser.parse_args()
    files = write_suite_data(args.out)
    print(f"wrote {len(files)} files under {args.out / 'ecommerce'}")


if __name__ == "__main__":
    main()
