# 课程的全部入口。第一次运行会在 .venv 中安装所需的一切。
#   make book     执行全部章节（full 规模），生成 _build/html
#   make test     单元测试 + nbval 逐个运行笔记本 + 警告即错误的书籍构建（quick 规模）
#   make lab      打开 JupyterLab
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
NOTEBOOKS := $(wildcard notebooks/*.ipynb)

export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONWARNINGS := ignore::DeprecationWarning:jieba._compat

.PHONY: install book test unit nbval book-check lab clean clean-cache

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "需要 Python 3.10 或更新版本"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[book,test]"
	touch $@

# 执行缓存只认笔记本代码；llmcourse 改动后旧输出会过期，所以一并清掉。
_build/.package-stamp: $(wildcard llmcourse/*.py) | $(STAMP)
	rm -rf _build/.jupyter_cache
	mkdir -p _build && touch $@

book: $(STAMP) _build/.package-stamp
	LLMCOURSE_PROFILE=full $(BIN)/jupyter-book build . --keep-going
	@echo "打开 _build/html/index.html 阅读本书"

test: unit nbval book-check

unit: $(STAMP)
	$(BIN)/python -m pytest tests -q

nbval: $(STAMP)
ifneq ($(strip $(NOTEBOOKS)),)
	LLMCOURSE_PROFILE=quick $(BIN)/python -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider -q $(NOTEBOOKS)
else
	@echo "notebooks/ 中还没有笔记本，跳过 nbval"
endif

# quick 规模、警告即错误；输出放在 _build/quick，不影响 make book 的缓存。
book-check: $(STAMP)
	LLMCOURSE_PROFILE=quick $(BIN)/jupyter-book build . --path-output _build/quick -W --keep-going

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

clean-cache:
	rm -rf _build/.jupyter_cache _build/quick/_build/.jupyter_cache

clean:
	rm -rf _build
