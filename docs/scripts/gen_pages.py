"""Write the generated pages into the site (run by mkdocs-gen-files, see ``mkdocs.yml``).

The pages are made by ``pages.py`` beside this file; the smoke runs whose figures the experiment
pages show are made here, under ``build/docs-smoke/`` (``make docs`` clears it first, so a build
shows the figures of the code it documents).
"""

from __future__ import annotations

import sys
from pathlib import Path

import mkdocs_gen_files

sys.path.insert(0, str(Path(__file__).parent))
import pages


def write(path: str, text: str) -> None:
    with mkdocs_gen_files.open(path, "w") as f:
        f.write(text)


readme = pages.README.read_text(encoding="utf-8")
write("index.md", pages.getting_started(readme))
write("cli.md", pages.cli_page(readme))
write("experiments/index.md", pages.experiments_index())

names = pages.experiment_names()
for name, run in pages.run_smokes(names).items():
    write(f"experiments/{name}.md", pages.experiment_page(name, run))
    for figure in pages.smoke_report(name, run)[1]:
        with mkdocs_gen_files.open(f"experiments/{name}/{figure}", "wb") as f:
            f.write((run / figure).read_bytes())

write("reference/neuralpaths.md", pages.top_level_page())
for page in pages.REFERENCE:
    write(f"reference/{page}.md", pages.reference_page(page))
