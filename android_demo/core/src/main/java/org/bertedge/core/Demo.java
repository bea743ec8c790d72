package org.bertedge.core;

import ai.onnxruntime.OrtException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * What the demo screen shows for a text, kept out of the Activity so the JVM tests run it: for a classifier the
 * label, its probability and the inference time; for an embedder the closest bundled sentences with scores; for
 * a pair model the bundled sentences reranked against the text by the model's pair scores.
 */
public final class Demo {
    public static final int HITS = 3;

    private final EdgeModel model;
    private final List<String> sentences;
    private final float[][] sentenceVectors;  // embedded once at start; empty for classifiers and pair models

    public Demo(EdgeModel model, List<String> sentences) throws OrtException {
        this.model = model;
        boolean single = model.manifest.isClassifier() && !model.manifest.takesPairs();
        this.sentences = single ? Collections.<String>emptyList() : sentences;
        sentenceVectors = new float[model.manifest.isClassifier() ? 0 : this.sentences.size()][];
        for (int i = 0; i < sentenceVectors.length; i++) {
            sentenceVectors[i] = model.run(this.sentences.get(i));
        }
    }

    /** One screen's worth: a headline and detail lines. */
    public static final class Answer {
        public final String headline;
        public final List<String> lines;
        public final double millis;  // the model call alone, tokenizer included
        public final float[] output;  // logits, the sentence embedding, or (pair models) each sentence's score

        Answer(String headline, List<String> lines, double millis, float[] output) {
            this.headline = headline;
            this.lines = lines;
            this.millis = millis;
            this.output = output;
        }
    }

    public Answer ask(String text) throws OrtException {
        if (model.manifest.takesPairs()) {
            return rerank(text);
        }
        long start = System.nanoTime();
        float[] output = model.run(text);
        double millis = (System.nanoTime() - start) / 1e6;
        List<String> lines = new ArrayList<>();
        if (model.manifest.isClassifier() && output.length == 1) {  // a regressor: its score, not a class
            return new Answer(String.format(Locale.ROOT, "score %.3f", output[0]), lines, millis, output);
        }
        if (model.manifest.isClassifier()) {
            Outputs.Prediction p = Outputs.classify(output, model.manifest.labels);
            String headline = String.format(Locale.ROOT, "%s (%.1f%%)", p.label, 100 * p.probability);
            return new Answer(headline, lines, millis, output);
        }
        for (Outputs.Hit hit : Outputs.search(output, sentenceVectors, HITS)) {
            lines.add(String.format(Locale.ROOT, "%.3f  %s", hit.score, sentences.get(hit.index)));
        }
        return new Answer(lines.isEmpty() ? "no sentences to search" : "closest sentences", lines, millis, output);
    }

    private Answer rerank(String query) throws OrtException {
        long start = System.nanoTime();
        double[] scores = new double[sentences.size()];
        float[] output = new float[scores.length];
        int scored = -1;  // a pair classifier's label to score by, once its width is known
        for (int i = 0; i < scores.length; i++) {
            float[] pair = model.runPair(query, sentences.get(i));
            if (pair.length > 1 && scored < 0) {
                scored = Outputs.scoredLabel(model.manifest.labels, pair.length);
            }
            scores[i] = Outputs.pairScore(pair, scored);
            output[i] = (float) scores[i];
        }
        double millis = (System.nanoTime() - start) / 1e6;
        List<String> lines = new ArrayList<>();
        for (Outputs.Hit hit : Outputs.rerank(scores, HITS)) {
            lines.add(String.format(Locale.ROOT, "%.3f  %s", hit.score, sentences.get(hit.index)));
        }
        return new Answer(lines.isEmpty() ? "no sentences to rerank" : "best matches", lines, millis, output);
    }
}
