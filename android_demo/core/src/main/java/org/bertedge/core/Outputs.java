package org.bertedge.core;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

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

    /**
     * How well a pair goes together, from a pair model's output: a one-output model's score as it is, or a
     * classifier's probability of label `positive`, or of its last output when `positive` is negative
     * (runtime_py's Bundle.score; the last label by default).
     */
    public static double pairScore(float[] output, int positive) {
        if (output.length == 1) {
            return output[0];
        }
        return Parity.softmax(Parity.toDouble(output))[positive < 0 ? output.length - 1 : positive];
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
