"""llmcourse: the helper package of the course 《从零构建语言模型系统》.

The modules form one chain, each importing only those before it:
data -> text -> vectors -> models -> training -> evaluation -> serving.
`config` (run sizes, seeds) and `plotting` (figures) stand beside the chain.
"""

__version__ = "0.1.0"
