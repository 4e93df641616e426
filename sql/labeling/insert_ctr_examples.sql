INSERT INTO labels.ctr_examples SELECT * FROM ctr_staged_examples
