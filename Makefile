# 课程的全部入口。第一次运行会在 .venv 中安装所需的一切。
#   make book     执行全部章节（full 规模），生成 _build/html
#   make test     单元测试 + nbval 逐个运行笔记本 + 警告即错误的书籍构建（quick 规模）
#   make lab      打开 JupyterLab
#   make student  学生版：不含参考答案的网页和笔记本，输出在 _build/student
#   make compat   兼容性检查：在最低支持版本上、模拟 Colab 离线运行每个笔记本的安装单元和全部单元格
#   make lock     把 .venv 中课程需要的确切版本写进 requirements/lock.txt（make install 按它安装）
#   make colab-cells  按 _config.yml 的仓库地址和 pyproject.toml 的版本改写每个笔记本的安装单元和 Colab 元数据
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LOCK   := requirements/lock.txt
EXTRAS := book,test,serve,dev
NOTEBOOKS := $(wildcard notebooks/*.ipynb)

export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONWARNINGS := ignore::DeprecationWarning:jieba._compat

.PHONY: install book test lint unit nbval book-check compat lab student lock lock-upgrade colab-cells clean clean-cache

install: $(STAMP)

# 依赖的范围写在 pyproject.toml；确切版本取自锁文件（-c 约束），书中的数字就是用这些版本算出的。
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "需要 Python 3.10 或更新版本"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[$(EXTRAS)]"
	touch $@

# 锁文件：.venv 中课程需要的每个包的确切版本（tools/lock.py）。先补装 pyproject.toml 新增而 .venv 还没有的依赖，
# 已经装好的版本不变；lock-upgrade 则先在范围内把一切升到最新。
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	$(BIN)/python tools/lock.py --output $(LOCK)

lock-upgrade:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade -e ".[$(EXTRAS)]"
	$(BIN)/python tools/lock.py --output $(LOCK)

# 仓库地址（_config.yml 的 repository.url）和版本（pyproject.toml）是唯一的来源：改了其中之一就运行它。
colab-cells: $(STAMP)
	$(BIN)/python tools/colab.py

# Sphinx 的构建记录（.doctrees）：普通版、book-check、学生版各一份。Sphinx 只重新读取源文件改动过的页面，
# 没有被重新读取的页面既不执行，也不查执行缓存，所以清缓存时必须连同构建记录一起清掉。
DOCTREES := _build/.doctrees _build/quick/_build/.doctrees _build/.student-work/_build/.doctrees

# 执行缓存只认笔记本代码；llmcourse 改动后旧输出会过期，所以一并清掉；
# 也清掉 Sphinx 的构建记录，否则没有改动的章节不会被重新读取和执行。
PACKAGE_SOURCES := $(wildcard llmcourse/*.py llmcourse/*/*.py)
_build/.package-stamp: $(PACKAGE_SOURCES) | $(STAMP)
	rm -rf _build/.jupyter_cache _build/.doctrees _build/.student-work/_build/.doctrees
	mkdir -p _build && touch $@

# 同样的规则用于 quick 规模的构建（book-check，以及 tests/test_student.py 与它共用的执行缓存）。
_build/quick/.package-stamp: $(PACKAGE_SOURCES) | $(STAMP)
	rm -rf _build/quick/_build/.jupyter_cache _build/quick/_build/.doctrees
	mkdir -p _build/quick && touch $@

# tools/build_state.py：构建目录中已执行的笔记本（jupyter_execute）或执行缓存缺失、
# 或 benchmarks/results 比上次构建新时，删除该构建的 .doctrees，让 Sphinx 重新读取所有页面；
# 随机种子（LLMCOURSE_SEED，默认 42）与上次构建不同时，先清掉执行缓存：LLMCOURSE_SEED=7 make book 会重新执行每一章。
# tools/execute_book.py 先把笔记本同时执行几个（默认按核数，最多 4 个；BOOK_JOBS=1 则逐个执行），结果存进 jupyter-book
# 的执行缓存，jupyter-book 随后只负责排版；两章需要同一个模型时，课程缓存的锁让后到的一章等着读，不会训练两遍。
book: $(STAMP) _build/.package-stamp
	$(BIN)/python tools/build_state.py _build
	LLMCOURSE_PROFILE=full $(BIN)/python tools/execute_book.py _build
	LLMCOURSE_PROFILE=full $(BIN)/jupyter-book build . --keep-going
	@echo "打开 _build/html/index.html 阅读本书"

# 单元测试和 nbval 同时运行（make -j2，各自的输出在结束时整段打印）：两者大部分时间只用一个 CPU 核，
# 在两核的机器上并行能省下几分钟；它们共用的 llmcourse 缓存按条目原子写入（llmcourse/cache.py）。
test: lint
	$(MAKE) --no-print-directory -j2 --output-sync=target unit nbval
	$(MAKE) --no-print-directory book-check

# ruff 的检查和格式（规则见 pyproject.toml）、工作流检查（actionlint 和 GitHub 的 JSON Schema）、CITATION.cff 的格式。
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/actionlint -shellcheck= -pyflakes=
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.citation-file-format CITATION.cff

# tests/test_student.py 构建普通版和学生版各一次（quick 规模），与 book-check 共用执行缓存，笔记本不会多执行一遍。
unit: $(STAMP) _build/quick/.package-stamp
	$(BIN)/python -m pytest tests -q

nbval: $(STAMP)
ifneq ($(strip $(NOTEBOOKS)),)
	LLMCOURSE_PROFILE=quick $(BIN)/python -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider -q $(NOTEBOOKS)
else
	@echo "notebooks/ 中还没有笔记本，跳过 nbval"
endif

# quick 规模、警告即错误；输出放在 _build/quick，不影响 make book 的缓存。
book-check: $(STAMP) _build/quick/.package-stamp
	$(BIN)/python tools/build_state.py _build/quick/_build
	LLMCOURSE_PROFILE=quick $(BIN)/jupyter-book build . --path-output _build/quick -W --keep-going
	$(BIN)/python tests/check_search_index.py _build/quick/_build/html
	$(BIN)/python tests/check_offline_html.py _build/quick/_build/html

# 在最低支持版本的全新虚拟环境里模拟 Colab：每个笔记本的安装单元离线地从本仓库安装，再由 nbval 运行（tools/compat.py）。
compat: $(STAMP)
	$(BIN)/python tools/compat.py --work _build/compat

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

# 配置由 _config.yml 生成；复用同一规模普通构建的执行缓存（LLMCOURSE_PROFILE=quick 时用 book-check 的）。
student: $(STAMP) _build/.package-stamp
	$(BIN)/python tools/student.py

# 执行缓存、Sphinx 的构建记录和 llmcourse 自己的缓存（分词、Word2Vec、训练好的模型）：
# 之后的 make book（make book-check、make student 同样）重新执行所有章节、重新训练所有模型。
clean-cache:
	rm -rf _build/.jupyter_cache _build/quick/_build/.jupyter_cache
	rm -rf $(DOCTREES) _build/.package-stamp _build/quick/.package-stamp
	rm -rf "$${LLMCOURSE_CACHE_DIR:-$$HOME/.cache/llmcourse}"

clean:
	rm -rf _build
