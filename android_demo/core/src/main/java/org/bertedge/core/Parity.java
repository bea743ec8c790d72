package org.bertedge.core;

/**
 * How outputs are compared with golden.json's: the same rules as runtime_py/parity.py (and so the exporter's
 * own verdict). Cosine per row; for classifiers, rows whose reference top-two probabilities are less than
 * DECIDED_MARGIN apart are left out, since int8 noise may flip them without saying anything about the export.
 * A one-output model (a pair model's score) has rows of one number, whose cosine is only a sign: there the
 * concordance correlation of the two columns stands for every row's cosine (runtime_py's row_similarity).
 */
public final class Parity {
    public static final double DECIDED_MARGIN = 0.5;  // runtime_py/parity.py says why

    public final double minCosine;  // for one-output models, the columns' concordance
    public final double maxAbsDiff;
    public final Double top1Agreement;  // classifiers only
    public final int undecided;
    public final String measure;  // what minCosine is, in messages: "score concordance" for one-output models

    private Parity(double minCosine, double maxAbsDiff, Double top1Agreement, int undecided, String measure) {
        this.measure = measure;
        this.minCosine = minCosine;
        this.maxAbsDiff = maxAbsDiff;
        this.top1Agreement = top1Agreement;
        this.undecided = undecided;
    }

    public static Parity agreement(float[][] candidates, double[][] references, boolean classifier) {
        boolean oneOutput = references.length > 0 && references[0].length == 1;
        classifier = classifier && !oneOutput;
        double columnConcordance = oneOutput ? concordance(candidates, references) : Double.NaN;
        boolean[] decided = classifier ? decidedRows(references) : allTrue(references.length);
        double minCosine = Double.POSITIVE_INFINITY;
        double maxAbs = 0;
        int agree = 0;
        int counted = 0;
        for (int row = 0; row < references.length; row++) {
            double[] candidate = toDouble(candidates[row]);
            for (int j = 0; j < candidate.length; j++) {
                maxAbs = Math.max(maxAbs, Math.abs(candidate[j] - references[row][j]));
            }
            if (!decided[row]) {
                continue;
            }
            minCosine = Math.min(minCosine, oneOutput ? columnConcordance : cosine(candidate, references[row]));
            counted++;
            if (argmax(candidate) == argmax(references[row])) {
                agree++;
            }
        }
        int undecided = references.length - counted;
        return new Parity(minCosine, maxAbs, classifier ? (double) agree / counted : null, undecided,
            oneOutput ? "score concordance" : "min cosine");
    }

    /**
     * What falls short of a tolerance, one message each (empty: it passes); runtime_py's Agreement.failures. NaN
     * outputs fail: their cosine is NaN, which compares false with everything.
     */
    public java.util.List<String> failures(double minCosineRequired, double minTop1Required) {
        java.util.List<String> failed = new java.util.ArrayList<>();
        if (!(minCosine >= minCosineRequired)) {
            failed.add(String.format(java.util.Locale.ROOT, "%s %.4f < %s", measure, minCosine, minCosineRequired));
        }
        if (top1Agreement != null && top1Agreement < minTop1Required) {
            failed.add(String.format(java.util.Locale.ROOT, "top-1 agreement %.3f < %s", top1Agreement,
                minTop1Required));
        }
        return failed;
    }

    public static double cosine(double[] a, double[] b) {
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        return dot / Math.max(Math.sqrt(na) * Math.sqrt(nb), 1e-12);
    }

    /**
     * Lin's concordance correlation of two one-output columns: 2 cov / (var a + var b + (mean a - mean b)^2), the
     * correlation times how well their levels and spreads agree, so a shifted or scaled score does not pass (where
     * both are constant: 1 if equal to float precision, else 0, as in Python's parity.concordance).
     */
    static double concordance(float[][] candidates, double[][] references) {
        int n = references.length;
        double meanA = 0;
        double meanB = 0;
        for (int row = 0; row < n; row++) {
            meanA += candidates[row][0];
            meanB += references[row][0];
        }
        meanA /= n;
        meanB /= n;
        double covariance = 0;
        double varianceA = 0;
        double varianceB = 0;
        for (int row = 0; row < n; row++) {
            double a = candidates[row][0] - meanA;
            double b = references[row][0] - meanB;
            covariance += a * b / n;
            varianceA += a * a / n;
            varianceB += b * b / n;
        }
        double offset = meanA - meanB;
        if (varianceA + varianceB < 1e-24) {  // both constant: equal to float precision, or not
            return Math.abs(offset) <= 1e-8 + 1e-5 * Math.abs(meanB) ? 1.0 : 0.0;
        }
        return 2 * covariance / (varianceA + varianceB + offset * offset);
    }

    public static double[] softmax(double[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : logits) {
            max = Math.max(max, v);
        }
        double sum = 0;
        double[] out = new double[logits.length];
        for (int i = 0; i < logits.length; i++) {
            out[i] = Math.exp(logits[i] - max);
            sum += out[i];
        }
        for (int i = 0; i < out.length; i++) {
            out[i] /= sum;
        }
        return out;
    }

    /** A float row widened once, so one cosine and one argmax serve outputs and references alike. */
    static double[] toDouble(float[] values) {
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[i];
        }
        return out;
    }

    static boolean[] decidedRows(double[][] logits) {
        boolean[] decided = new boolean[logits.length];
        boolean any = false;
        for (int row = 0; row < logits.length; row++) {
            double[] p = softmax(logits[row]);
            java.util.Arrays.sort(p);
            decided[row] = p[p.length - 1] - p[p.length - 2] >= DECIDED_MARGIN;
            any |= decided[row];
        }
        return any ? decided : allTrue(logits.length);
    }

    static int argmax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    private static boolean[] allTrue(int n) {
        boolean[] out = new boolean[n];
        java.util.Arrays.fill(out, true);
        return out;
    }
}
