# 课程的全部入口。第一次运行会在 .venv 中安装所需的一切。
#   make book     执行全部章节（full 规模），生成 _build/html
#   make test     单元测试 + nbval 逐个运行笔记本 + 警告即错误的书籍构建（quick 规模）
#   make lab      打开 JupyterLab
#   make student  学生版：不含参考答案的网页和笔记本，输出在 _build/student
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
NOTEBOOKS := $(wildcard notebooks/*.ipynb)

export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONWARNINGS := ignore::DeprecationWarning:jieba._compat

.PHONY: install book test unit nbval book-check lab student clean clean-cache

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "需要 Python 3.10 或更新版本"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[book,test]"
	touch $@

# 执行缓存只认笔记本代码；llmcourse 改动后旧输出会过期，所以一并清掉；
# 也清掉 Sphinx 的构建记录，否则没有改动的章节不会被重新读取和执行。
_build/.package-stamp: $(wildcard llmcourse/*.py) | $(STAMP)
	rm -rf _build/.jupyter_cache _build/.doctrees
	mkdir -p _build && touch $@

book: $(STAMP) _build/.package-stamp
	LLMCOURSE_PROFILE=full $(BIN)/jupyter-book build . --keep-going
	@echo "打开 _build/html/index.html 阅读本书"

test: unit nbval book-check

# tests/test_student.py 构建普通版和学生版各一次（quick 规模），与 book-check 共用执行缓存，笔记本不会多执行一遍。
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
	$(BIN)/python tests/check_search_index.py _build/quick/_build/html

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

# 配置由 _config.yml 生成；复用同一规模普通构建的执行缓存（LLMCOURSE_PROFILE=quick 时用 book-check 的）。
student: $(STAMP) _build/.package-stamp
	$(BIN)/python -m llmcourse.student

clean-cache:  # the execution caches and llmcourse's own (segmentation, Word2Vec, trained models)
	rm -rf _build/.jupyter_cache _build/quick/_build/.jupyter_cache
	rm -rf "$${LLMCOURSE_CACHE_DIR:-$$HOME/.cache/llmcourse}"

clean:
	rm -rf _build
