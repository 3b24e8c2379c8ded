"""nbval settings for the chapter notebooks.

Only cells marked `# NBVAL_CHECK_OUTPUT` are compared (`make nbval` runs with
--nbval-lax). In those cells we compare the printed text, not what jieba or
TensorFlow log to stderr, nor rich outputs that change from run to run.
"""

IGNORED_OUTPUTS = (
    "stderr",
    "text/html",
    "application/javascript",
    "application/vnd.jupyter.widget-view+json",
    "image/png",
)


def pytest_collectstart(collector):
    try:
        from nbval.plugin import IPyNbFile
    except ImportError:  # nbval not installed: nothing to configure
        return
    if isinstance(collector, IPyNbFile):
        collector.skip_compare = tuple(collector.skip_compare) + IGNORED_OUTPUTS
