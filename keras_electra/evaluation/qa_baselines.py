"""SQuAD v2.0 baselines: two trivial predictors under the official evaluation.

* `all_null`: "no answer" for every question (EM = F1 = the unanswerable share).
* `random_span`: a random 1-4 word span of the context for every question.

Pure Python; scored by `keras_electra.squad.metrics.evaluate_v2`, like a model's predictions.

Example:
```python
from keras_electra.evaluation.qa_baselines import qa_baselines

baselines = qa_baselines("demo_output/qa/dev-v2.0.json", seed=0)
baselines["all_null"]["exact"], baselines["random_span"]["f1"]
```
"""

import json
import random

from keras_electra.squad.metrics import evaluate_v2


def random_span(context, rng, max_words=4):
    """A random span of 1..max_words whitespace words of `context` ("" for an empty one)."""
    words = context.split()
    if not words:
        return ""
    length = rng.randint(1, min(max_words, len(words)))
    start = rng.randint(0, len(words) - length)
    return " ".join(words[start:start + length])


def baseline_predictions(dataset, seed=0):
    """`{"all_null": {qas_id: ""}, "random_span": {qas_id: span}}` for a SQuAD dict.

    The random spans are drawn from `random.Random(seed)` in file order, so they are the
    same on every machine.
    """
    rng = random.Random(seed)
    all_null, random_spans = {}, {}
    for article in dataset["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                all_null[qa["id"]] = ""
                random_spans[qa["id"]] = random_span(paragraph["context"], rng)
    return {"all_null": all_null, "random_span": random_spans}


def qa_baselines(dev_file, seed=0):
    """Official SQuAD v2.0 metrics of the baselines on `dev_file`: `{name: metrics dict}`."""
    with open(dev_file, encoding="utf-8") as f:
        dataset = json.load(f)
    return {name: dict(evaluate_v2(dataset, predictions))
            for name, predictions in baseline_predictions(dataset, seed).items()}
