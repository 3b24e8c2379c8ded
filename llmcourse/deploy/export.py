"""Export a saved model directory as a TensorFlow SavedModel for serving.

    from llmcourse.deploy.export import export_serving
    export_serving("runs/bilstm", "exported/sentiment")   # -> exported/sentiment/1/

The layout follows TensorFlow Serving (one numbered folder per version):

    exported/sentiment/1/saved_model.pb, variables/, assets/   the SavedModel
    exported/sentiment/1/vocabulary.json                       copy of the model's vocabulary
    exported/sentiment/1/encoding.json                         how to turn text into ids

The signature "serving_default" (also callable as `.serve`) takes ids that are
already encoded, int32 of shape (批量大小, 时间步数), right-padded with 0, and
returns {"probabilities": float32 of shape (批量大小,)}: the positive-class
probability. Segmentation (jieba) cannot run inside a TensorFlow graph, so
clients encode text themselves, exactly as `SentimentModel.encoder.encode`
does. A second signature, "serve_words" (`.serve_words`), takes text that is
already segmented, words joined by single spaces (string of shape
(批量大小,)), and does the rest in the graph: stopwords, vocabulary lookup,
truncation and padding; the client then needs jieba but not the vocabulary.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from llmcourse import saving
from llmcourse.config import import_tensorflow
from llmcourse.vectors import PAD_ID, PAD_TOKEN, UNK_ID, UNK_TOKEN

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow, quietly imported)

SIGNATURE_NAME = "serving_default"
ENDPOINT_NAME = "serve"
WORDS_SIGNATURE = "serve_words"
INPUT_NAME = "token_ids"
WORDS_INPUT_NAME = "segmented_text"
OUTPUT_NAME = "probabilities"
ENCODING_FILE = "encoding.json"
ENCODING_FORMAT = "llmcourse.encoding/1"


def encoding_description(model: saving.SentimentModel) -> dict:
    """What a client must do to turn raw text into the ids the SavedModel expects.

    Taught on the deployment page (book/deployment.md).
    """
    enc = model.encoder
    return {
        "format": ENCODING_FORMAT,
        "kind": model.kind,
        "steps": [
            "normalize: full-width ASCII -> half-width, collapse whitespace, lower-case Latin letters",
            "segment: jieba, accurate mode (jieba.cut, HMM on); drop whitespace-only tokens",
            "drop the stopwords listed below",
            "map words to ids with vocabulary.json (word i of 'words' has id i + 2; other words -> unk_id)",
            "an empty result becomes [unk_id]",
            "cut to max_len (truncating), then pad with pad_id after the text (padding post)",
        ],
        "max_len": enc.max_len,
        "padding": "post",
        "truncating": enc.truncating,
        "pad_id": PAD_ID,
        "pad_token": PAD_TOKEN,
        "unk_id": UNK_ID,
        "unk_token": UNK_TOKEN,
        "stopwords": sorted(enc.stopwords),
        "vocabulary_file": saving.VOCAB_FILE,
        "vocabulary_size": len(enc.vocab),
        "signature": {
            "name": SIGNATURE_NAME,
            "inputs": {INPUT_NAME: {"dtype": "int32", "shape": [None, None]}},
            "outputs": {OUTPUT_NAME: {"dtype": "float32", "shape": [None]}},
        },
        "words_signature": {
            "name": WORDS_SIGNATURE,
            "inputs": {
                WORDS_INPUT_NAME: {
                    "dtype": "string",
                    "shape": [None],
                    "meaning": "normalized, jieba-segmented words joined by single spaces",
                }
            },
            "outputs": {OUTPUT_NAME: {"dtype": "float32", "shape": [None]}},
        },
        "versions": model.config.get("versions", {}),
    }


def export_serving(model_dir: str | os.PathLike, out_dir: str | os.PathLike, version: int = 1) -> Path:
    """Write the neural model in `model_dir` as SavedModel `out_dir/<version>/`; returns that folder.

    The folder also holds vocabulary.json and encoding.json. An existing version
    folder is refused rather than overwritten. TF-IDF baselines have no
    TensorFlow graph and cannot be exported; nor can a model whose vocabulary reads
    unseen words as characters (char_fallback), a step the exported graph lacks.

    Taught on the deployment page (book/deployment.md).
    """
    if int(version) < 1:
        raise ValueError("版本号必须是正整数（TensorFlow Serving 按数字目录名识别版本）")
    model = saving.load_model(model_dir)
    if not isinstance(model, saving.SentimentModel):
        raise saving.ModelLoadError(f"{model_dir} 是 {model.kind} 基线模型：只有神经网络模型能导出为 SavedModel")
    if model.encoder.vocab.char_fallback:  # the graph's word lookup has no character fallback
        raise saving.ModelLoadError(
            f"{model_dir} 的词表打开了 char_fallback（没见过的词拆成单字读入），导出的图里还没有这一步，"
            "所以不能导出：请用不带 --char-fallback 训练的模型"
        )
    target = Path(out_dir) / str(int(version))
    if target.exists():
        raise FileExistsError(f"导出目录已存在：{target}（请换一个版本号或先删除它）")
    _write_saved_model(model, target)
    _write_client_files(model, Path(model_dir), target)
    return target


def _write_saved_model(model: saving.SentimentModel, target: Path) -> None:
    """The SavedModel itself: the ids endpoint (also "serving_default") and the segmented-text one."""
    vocabulary, stopwords = _vocabulary_table(model.encoder), _stopword_table(model.encoder)
    serve = _ids_endpoint(model.model)
    serve_words = _words_endpoint(serve, vocabulary, stopwords, model.encoder)
    archive = keras.export.ExportArchive()
    archive.track(model.model)
    archive.track(vocabulary)
    if stopwords is not None:
        archive.track(stopwords)
    archive.add_endpoint(
        name=ENDPOINT_NAME,
        fn=serve,
        input_signature=[tf.TensorSpec(shape=(None, None), dtype=tf.int32, name=INPUT_NAME)],
    )
    archive.add_endpoint(
        name=WORDS_SIGNATURE,
        fn=serve_words,
        input_signature=[tf.TensorSpec(shape=(None,), dtype=tf.string, name=WORDS_INPUT_NAME)],
    )
    archive.write_out(str(target), verbose=False)  # the first endpoint also becomes "serving_default"


def _write_client_files(model: saving.SentimentModel, model_dir: Path, target: Path) -> None:
    """What clients need next to the SavedModel: vocabulary.json and encoding.json."""
    shutil.copyfile(model_dir / saving.VOCAB_FILE, target / saving.VOCAB_FILE)
    (target / ENCODING_FILE).write_text(
        json.dumps(encoding_description(model), ensure_ascii=False, indent=2), encoding="utf-8"
    )


def _vocabulary_table(encoder):
    """A graph lookup table word -> id; any other word -> UNK_ID."""
    words = encoder.vocab.index_to_word[UNK_ID + 1 :]
    ids = tf.range(UNK_ID + 1, UNK_ID + 1 + len(words), dtype=tf.int32)
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(words, tf.string), ids), default_value=UNK_ID
    )


def _stopword_table(encoder):
    """A graph lookup table stopword -> 1, any other word -> 0; None when the encoder keeps every word."""
    if not encoder.stopwords:
        return None
    ones = tf.ones(len(encoder.stopwords), tf.int32)
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(sorted(encoder.stopwords), tf.string), ones), default_value=0
    )


def _ids_endpoint(keras_model):
    """The function behind "serve": encoded ids -> {"probabilities": positive-class probability}."""

    def serve(token_ids):
        logits = keras_model(token_ids, training=False)  # (批量大小, 1)
        return {OUTPUT_NAME: tf.sigmoid(logits[:, 0])}  # (批量大小,)

    return serve


def _words_endpoint(serve, vocabulary, stopwords, encoder):
    """The function behind "serve_words": stopwords, lookup, truncation and padding in the graph, then `serve`."""
    max_len, keep_end = encoder.max_len, encoder.truncating == "pre"

    def serve_words(segmented_text):
        tokens = tf.strings.split(segmented_text)  # RaggedTensor (批量大小, None)
        if stopwords is not None:
            keep = tf.ragged.map_flat_values(lambda t: stopwords.lookup(t) == 0, tokens)
            tokens = tf.ragged.boolean_mask(tokens, keep)
        ids = tf.ragged.map_flat_values(vocabulary.lookup, tokens)
        ids = ids[:, -max_len:] if keep_end else ids[:, :max_len]
        dense = ids.to_tensor(default_value=PAD_ID, shape=[None, max_len])  # (批量大小, max_len)
        first = tf.where(ids.row_lengths() == 0, tf.constant(UNK_ID, tf.int32), dense[:, 0])  # empty -> [UNK_ID]
        return serve(tf.concat([first[:, None], dense[:, 1:]], axis=1))

    return serve_words
