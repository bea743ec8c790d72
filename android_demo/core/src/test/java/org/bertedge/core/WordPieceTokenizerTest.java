package org.bertedge.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

/**
 * The tokenizer on a 17-piece vocabulary built here. The expected ids are what the Python `tokenizers` library
 * gives for the same tokenizer.json (checked when the test was written); tests/test_android_core.py compares
 * the two on real vocabularies and thousands of texts.
 */
public class WordPieceTokenizerTest {
    static final String[] VOCAB = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "un", "##aff",
        "##able", "cafe", ",", "!", "的", "a", "##s", "cat"};

    static final String BERT_PROCESSING = "{\"type\": \"BertProcessing\", \"sep\": [\"[SEP]\", 3], \"cls\": [\"[CLS]\", 2]}";

    /** A BERT-style tokenizer.json over VOCAB: lower-casing BertNormalizer, the five specials as added tokens. */
    static String tokenizerJson(String modelType) {
        return tokenizerJson(modelType, BERT_PROCESSING);
    }

    /** The same with another post-processor (what lays out the special tokens around the texts). */
    static String tokenizerJson(String modelType, String postProcessor) {
        StringBuilder vocab = new StringBuilder();
        StringBuilder added = new StringBuilder();
        for (int id = 0; id < VOCAB.length; id++) {
            vocab.append(id == 0 ? "" : ", ").append('"').append(VOCAB[id]).append("\": ").append(id);
            if (id < 5) {
                added.append(id == 0 ? "" : ", ").append("{\"id\": ").append(id).append(", \"content\": \"")
                    .append(VOCAB[id]).append("\", \"special\": true}");
            }
        }
        return "{\"added_tokens\": [" + added + "],"
            + " \"normalizer\": {\"type\": \"BertNormalizer\", \"clean_text\": true, \"handle_chinese_chars\": true,"
            + " \"strip_accents\": null, \"lowercase\": true},"
            + " \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"post_processor\": " + postProcessor + ","
            + " \"model\": {\"type\": \"" + modelType + "\", \"unk_token\": \"[UNK]\","
            + " \"continuing_subword_prefix\": \"##\", \"max_input_chars_per_word\": 100, \"vocab\": {" + vocab + "}}}";
    }

    private final WordPieceTokenizer tokenizer = new WordPieceTokenizer(tokenizerJson("WordPiece"));

    @Test
    public void punctuationIsSplitOffAndCaseFolded() {
        assertArrayEquals(new int[] {2, 5, 11, 6, 12, 3}, tokenizer.encode("Hello, world!", 128));
    }

    @Test
    public void wordsSplitIntoTheLongestPiecesFirst() {
        assertArrayEquals(new int[] {2, 7, 8, 9, 16, 15, 3}, tokenizer.encode("unaffable cats", 128));
    }

    @Test
    public void accentsAreStrippedWhenLowerCasing() {
        assertArrayEquals(new int[] {2, 10, 3}, tokenizer.encode("Café", 128));
    }

    @Test
    public void cjkCharactersAreWordsOfTheirOwn() {
        assertArrayEquals(new int[] {2, 1, 13, 3}, tokenizer.encode("你的", 128));
    }

    @Test
    public void specialTokensWrittenInTheTextStayWhole() {
        assertArrayEquals(new int[] {2, 14, 3, 16, 3}, tokenizer.encode("a [SEP] cat", 128));
    }

    @Test
    public void aWordWithAnUnknownPartIsOneUnk() {
        assertArrayEquals(new int[] {2, 5, 1, 3}, tokenizer.encode("hello xyz", 128));
        // a zero-width space is dropped (so "catcat" is one word), a no-break space separates
        assertArrayEquals(new int[] {2, 1, 16, 3}, tokenizer.encode("cat\u200bcat\u00a0cat", 128));
    }

    @Test
    public void anUnassignedCodePointIsAnUnknownWordNotDropped() {
        // tokenizers keeps U+0378 (unassigned in every Unicode version) as a character: [UNK], as here
        assertArrayEquals(new int[] {2, 5, 1, 16, 3}, tokenizer.encode("hello \u0378 cat", 128));
    }

    @Test
    public void truncationKeepsClsAndSepWithinMaxLength() {
        assertArrayEquals(new int[] {2, 5, 5, 3}, tokenizer.encode("hello hello hello hello", 4));
        assertArrayEquals(new int[] {2, 3}, tokenizer.encode("", 128));
    }

    @Test
    public void otherTokenizerModelsAreRefused() {
        assertEquals("tokenizer.json: model type BPE, not WordPiece",
            assertThrows(IllegalArgumentException.class, () -> new WordPieceTokenizer(tokenizerJson("BPE")))
                .getMessage());
    }

    @Test
    public void aPairIsClsFirstSepSecondSepWithTokenTypes() {
        WordPieceTokenizer.Pair pair = tokenizer.encodePair("hello world", "a cat", 128);
        assertArrayEquals(new int[] {2, 5, 6, 3, 14, 16, 3}, pair.ids);
        assertArrayEquals(new int[] {0, 0, 0, 0, 1, 1, 1}, pair.typeIds);
    }

    /** A TemplateProcessing post-processor (what transformers writes for BERT) over `cls` and `sep`. */
    private static String template(String cls, int clsId, String sep, int sepId, String lastSepType) {
        String c = "{\"SpecialToken\": {\"id\": \"" + cls + "\", \"type_id\": 0}}";
        String s0 = "{\"SpecialToken\": {\"id\": \"" + sep + "\", \"type_id\": 0}}";
        String s1 = "{\"SpecialToken\": {\"id\": \"" + sep + "\", \"type_id\": " + lastSepType + "}}";
        String a = "{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}";
        String b = "{\"Sequence\": {\"id\": \"B\", \"type_id\": 1}}";
        return "{\"type\": \"TemplateProcessing\", \"single\": [" + c + ", " + a + ", " + s0 + "], \"pair\": [" + c
            + ", " + a + ", " + s0 + ", " + b + ", " + s1 + "], \"special_tokens\": {\"" + cls + "\": {\"id\": \""
            + cls + "\", \"ids\": [" + clsId + "], \"tokens\": [\"" + cls + "\"]}, \"" + sep + "\": {\"id\": \"" + sep
            + "\", \"ids\": [" + sepId + "], \"tokens\": [\"" + sep + "\"]}}}";
    }

    @Test
    public void theSpecialTokensAreThePostProcessorsAsThePythonTokenizerReadsThem() {
        // BERT's layout with other special tokens ([MASK] and [PAD] here): their ids, not [CLS]'s and [SEP]'s
        WordPieceTokenizer other = new WordPieceTokenizer(tokenizerJson("WordPiece", template("[MASK]", 4, "[PAD]", 0,
            "1")));
        assertArrayEquals(new int[] {4, 5, 0}, other.encode("hello", 128));
        assertArrayEquals(new int[] {4, 5, 0, 16, 0}, other.encodePair("hello", "cat", 128).ids);
        WordPieceTokenizer bert = new WordPieceTokenizer(tokenizerJson("WordPiece", template("[CLS]", 2, "[SEP]", 3,
            "1")));
        assertArrayEquals(tokenizer.encodePair("hello world", "a cat", 128).ids,
            bert.encodePair("hello world", "a cat", 128).ids);
    }

    @Test
    public void aLayoutThisCoreDoesNotBuildIsRefused() {
        // the last [SEP] of type 0: not the layout encodePair builds (it was built anyway, [CLS] and [SEP] looked
        // up by name); no post-processor at all: no special tokens, where this core adds two
        for (String processor : new String[] {template("[CLS]", 2, "[SEP]", 3, "0"), "null"}) {
            String message = assertThrows(IllegalArgumentException.class,
                () -> new WordPieceTokenizer(tokenizerJson("WordPiece", processor))).getMessage();
            assertTrue(message, message.endsWith("does not lay texts out as BERT does ([CLS] A [SEP] B [SEP]),"
                + " which this core builds"));
        }
    }

    @Test
    public void aPairIsCutLongestFirstAsTheTokenizersLibraryCutsIt() {
        // (first, second) pieces kept in room 9, as tokenizers 0.22 gives them for the same lengths
        assertArrayEquals(new int[] {3, 4}, WordPieceTokenizer.pairLengths(3, 4, 9));
        assertArrayEquals(new int[] {2, 7}, WordPieceTokenizer.pairLengths(2, 13, 9));
        assertArrayEquals(new int[] {4, 5}, WordPieceTokenizer.pairLengths(10, 10, 9));
        assertArrayEquals(new int[] {5, 4}, WordPieceTokenizer.pairLengths(11, 10, 9));
        assertArrayEquals(new int[] {0, 9}, WordPieceTokenizer.pairLengths(0, 20, 9));
        WordPieceTokenizer.Pair pair = tokenizer.encodePair("hello world hello world", "a cat a cat", 7);
        assertArrayEquals(new int[] {2, 5, 6, 3, 14, 16, 3}, pair.ids);
    }
}
