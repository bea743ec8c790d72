package org.bertedge.core;

import static org.junit.Assert.assertEquals;

import java.util.Arrays;
import java.util.List;
import org.junit.Test;

public class OutputsTest {
    @Test
    public void classifyNamesTheMostLikelyLabel() {
        Outputs.Prediction p = Outputs.classify(new float[] {0, (float) Math.log(3)}, Arrays.asList("neg", "pos"));
        assertEquals("pos", p.label);
        assertEquals(0.75, p.probability, 1e-6);
        assertEquals("0", Outputs.classify(new float[] {1, 0, -1}, null).label);  // no labels: the index
    }

    @Test
    public void searchRanksByCosineAndKeepsCorpusOrderOnTies() {
        float[][] corpus = {{0, 1}, {1, 0}, {2, 0}, {1, 1}};
        List<Outputs.Hit> hits = Outputs.search(new float[] {1, 0}, corpus, 3);
        assertEquals(3, hits.size());
        assertEquals(1, hits.get(0).index);  // rows 1 and 2 tie at cosine 1: corpus order
        assertEquals(2, hits.get(1).index);
        assertEquals(3, hits.get(2).index);
        assertEquals(Math.sqrt(0.5), hits.get(2).score, 1e-6);
    }

    @Test
    public void searchClampsK() {
        float[][] corpus = {{0, 1}, {1, 0}};
        assertEquals(2, Outputs.search(new float[] {1, 0}, corpus, 10).size());
        assertEquals(0, Outputs.search(new float[] {1, 0}, corpus, -1).size());
    }

    @Test
    public void rerankOrdersByPairScoreAndKeepsTiesInOrder() {
        List<Outputs.Hit> hits = Outputs.rerank(new double[] {0.2, 0.9, 0.2, 0.5}, 3);
        assertEquals(3, hits.size());
        assertEquals(1, hits.get(0).index);
        assertEquals(3, hits.get(1).index);
        assertEquals(0, hits.get(2).index);  // tied with 2, earlier first
    }

    @Test
    public void aPairScoreIsTheOneOutputOrTheScoredLabelsProbability() {
        assertEquals(0.8, Outputs.pairScore(new float[] {0.8f}, -1), 1e-6);
        assertEquals(0.8808, Outputs.pairScore(new float[] {0f, 2f}, 1), 1e-4);
        assertEquals(0.1192, Outputs.pairScore(new float[] {2f, 0f}, 1), 1e-4);
    }

    @Test
    public void aPairClassifierIsScoredByTheLabelThatSaysTheTextsGoTogether() {
        // runtime_py's test_a_pair_classifier_scores_by_the_label_that_says_the_texts_go_together, case by case
        assertEquals(0, Outputs.scoredLabel(Arrays.asList("entailment", "neutral", "contradiction"), 3));
        assertEquals(0, Outputs.scoredLabel(Arrays.asList("entailment", "not_entailment"), 2));
        assertEquals(1, Outputs.scoredLabel(Arrays.asList("not_duplicate", "duplicate"), 2));
        assertEquals(1, Outputs.scoredLabel(Arrays.asList("not_equivalent", "Equivalent"), 2));
        assertEquals(1, Outputs.scoredLabel(Arrays.asList("LABEL_0", "LABEL_1"), 2));
        assertEquals(1, Outputs.scoredLabel(null, 2));
        assertEquals(1, Outputs.scoredLabel(Arrays.asList("contradiction", "entailment"), 2));
    }

    @Test(expected = IllegalArgumentException.class)
    public void threeUnnamedLabelsHaveNoDefault() {
        Outputs.scoredLabel(Arrays.asList("LABEL_0", "LABEL_1", "LABEL_2"), 3);
    }
}
