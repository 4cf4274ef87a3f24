"""`make demo`: the whole ELECTRA pipeline on built-in data, in a few minutes on a laptop CPU.

Stages (each is a `keras-electra` command; the equivalent command line is printed):

1. corpus       English prose of Python's own docs (`pydoc_data.topics` + stdlib
                docstrings) -> text files
2. build-vocab  WordPiece vocabulary learned from that text
3. prepare      G-style pretraining TFRecord shards (train + validation)
4. pretrain     `electra_tiny` generator + discriminator (replaced-token detection);
                the command exports the discriminator as a preset
5. export       the discriminator preset -> a Hugging Face `transformers` directory
6. rtd-baseline the checkpoint with its discriminator reset to random init (judging the
                same replaced tokens) and the untrained model, same validation batches
7. qa-data      a generated SQuAD v2.0 train/dev set with unanswerable questions
8. squad        fine-tune `ElectraQuestionAnswerer` from the pretrained discriminator
9. squad-eval   the official SQuAD v2.0 evaluation of its dev predictions (at the
                demo's null threshold 0.0 and at G's -2.75)
10. qa-baselines all-null and random-span predictions, same official evaluation
11. answer      a few questions answered by `keras-electra answer`
12. report      `report.md`, `summary.json`, PNG plots in the output directory

Modules: `settings` (the sizes and the arguments), `pipeline` (runs, checks and times
the stages), `report` (`report.md`, tables, plots), `data` (the built-in corpus and QA
set), `__main__` (the entry point). The baselines of stages 6 and 10 are the library's
(`keras_electra.evaluation`).

Nothing is downloaded. Bring your own data with `--corpus 'text/*.txt'` (one
sentence per line, blank line between documents) and/or `--squad dev-v2.0.json`
(split 80/20 by article into train/dev) or `--squad-train` + `--squad-dev`.

Example:
```bash
python -m keras_electra.demo --output-dir demo_output            # ~6 min on 2 cores
python -m keras_electra.demo --output-dir /tmp/d --quick          # ~1-2 min smoke run
make demo CORPUS='my/*.txt' SQUAD=dev-v2.0.json STEPS=2000
```
"""

from keras_electra.demo.settings import DemoSettings, parse_args

__all__ = ["DemoSettings", "parse_args"]
