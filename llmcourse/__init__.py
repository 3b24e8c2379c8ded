"""llmcourse: the helper package of the course 《从零构建语言模型系统》.

What the chapters teach, one idea per module, imported one way:
config, errors, profiling, cache, registry (foundations) -> data, domains -> text, probes -> vectors, ngram ->
models, reference, baselines -> training -> pretraining, lm -> evaluation, subword ->
saving -> plotting, pipeline, exercises, gpt (composition) -> gptlab (chapter 8's
miniature-GPT experiments). Two rooms sit above it:
`llmcourse.book` (what notebooks use to glue numbers and guard claims in the prose)
and `llmcourse.deploy` (command line, HTTP service, SavedModel export, with its
own optional dependencies); the tools that build the book live outside the
package, in tools/. `tests/test_layout.py` checks the direction of every import.
"""

__version__ = "0.1.0"
