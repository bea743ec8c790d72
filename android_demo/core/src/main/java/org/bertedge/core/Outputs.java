package org.bertedge.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * What the app makes of model outputs: a label with its probability, cosine search over sentences, and passages
 * reranked by a pair model's scores.
 */
public final class Outputs {
    private Outputs() {}

    public static final class Prediction {
        public final String label;
        public final double probability;

        Prediction(String label, double probability) {
            this.label = label;
            this.probability = probability;
        }
    }

    public static final class Hit {
        public final int index;  // position in the searched sentences (or the reranked passages)
        public final double score;  // cosine similarity to the query (or the pair model's score)

        Hit(int index, double score) {
            this.index = index;
            this.score = score;
        }
    }

    /** The most likely class of one classifier output; labels may be null (then "0", "1", ...). */
    public static Prediction classify(float[] logits, List<String> labels) {
        double[] p = Parity.softmax(Parity.toDouble(logits));
        int best = Parity.argmax(p);
        return new Prediction(labels == null ? Integer.toString(best) : labels.get(best), p[best]);
    }

    /** Label names that say two texts go together, matched whole and case-blind (runtime_py's GOES_TOGETHER). */
    static final List<String> GOES_TOGETHER =
        Arrays.asList("entailment", "duplicate", "equivalent", "paraphrase", "relevant");

    /**
     * The output a pair classifier is scored by, as runtime_py's scored_label: the one label named in
     * GOES_TOGETHER, else the second of two (labels may be null: named "0", "1", ...); a head of three or more
     * labels named otherwise has none (IllegalArgumentException).
     */
    public static int scoredLabel(List<String> labels, int outputs) {
        int found = -1;
        int named = 0;
        for (int i = 0; labels != null && i < labels.size(); i++) {
            if (GOES_TOGETHER.contains(labels.get(i).toLowerCase(Locale.ROOT))) {
                found = i;
                named++;
            }
        }
        if (named == 1) {
            return found;
        }
        if (outputs == 2) {
            return 1;
        }
        throw new IllegalArgumentException("this pair classifier has " + outputs + " labels and "
            + (named > 1 ? "more than one says" : "none says") + " the texts go together: name the one to score by");
    }

    /**
     * How well a pair goes together, from a pair model's output: a one-output model's score as it is, or a
     * classifier's probability of its output `scored` (scoredLabel's; runtime_py's Bundle.score).
     */
    public static double pairScore(float[] output, int scored) {
        if (output.length == 1) {
            return output[0];
        }
        return Parity.softmax(Parity.toDouble(output))[scored];
    }

    /** Passages ordered by their pair score with the query, best first; ties keep their order (runtime_py's). */
    public static List<Hit> rerank(double[] scores, int k) {
        List<Hit> hits = new ArrayList<>();
        for (int i = 0; i < scores.length; i++) {
            hits.add(new Hit(i, scores[i]));
        }
        hits.sort(Comparator.comparingDouble((Hit h) -> -h.score));
        return hits.subList(0, Math.min(Math.max(k, 0), hits.size()));
    }

    /** The k rows of corpus (embeddings, one per sentence) closest to the query by cosine, best first. */
    public static List<Hit> search(float[] query, float[][] corpus, int k) {
        double[] q = Parity.toDouble(query);
        List<Hit> hits = new ArrayList<>();
        for (int i = 0; i < corpus.length; i++) {
            hits.add(new Hit(i, Parity.cosine(q, Parity.toDouble(corpus[i]))));
        }
        // Ties keep corpus order, as runtime_py's stable argsort does.
        hits.sort(Comparator.comparingDouble((Hit h) -> -h.score));
        return hits.subList(0, Math.min(Math.max(k, 0), hits.size()));
    }
}
