-- Quality assurance (REQUIREMENTS §1.15, D-11, D-18): weekly samples of recorded calls, scoring
-- forms with points and fatal items, evaluations with their item scores, and the pass-rate report.

CREATE TABLE qa_forms (
    form_id     text PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE qa_forms IS 'QA scoring forms (e.g. N-40 telesales form A, N-41 telecom form B).';

CREATE TABLE qa_form_items (
    form_id      text NOT NULL REFERENCES qa_forms ON DELETE CASCADE,
    item_code    text NOT NULL,
    parent_code  text,
    title        text NOT NULL,
    points       numeric(6, 2) NOT NULL DEFAULT 0,
    fatal        boolean NOT NULL DEFAULT false,
    PRIMARY KEY (form_id, item_code)
);
COMMENT ON TABLE qa_form_items IS 'Items of a form: points for scored items; fatal items fail the evaluation (D-18).';

CREATE TABLE qa_samples (
    sample_id        uuid PRIMARY KEY,
    week_start       date NOT NULL,
    call_id          text NOT NULL,
    call_started_at  timestamptz,
    answered_at      timestamptz NOT NULL,
    agent_id         text NOT NULL,
    queue            text NOT NULL,
    recording_id     text,
    stratum          text NOT NULL,
    seed             bigint NOT NULL,
    drawn_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (week_start, call_id, agent_id)
);
COMMENT ON TABLE qa_samples IS 'Calls drawn for QA listening (ctibridge qa sample), reproducible from week and seed.';
CREATE INDEX qa_samples_agent ON qa_samples (agent_id, week_start);

CREATE TABLE qa_evaluations (
    evaluation_id  uuid PRIMARY KEY,
    sample_id      uuid REFERENCES qa_samples ON DELETE SET NULL,
    call_id        text NOT NULL,
    agent_id       text NOT NULL,
    queue          text NOT NULL,
    form_id        text NOT NULL REFERENCES qa_forms,
    evaluator      text NOT NULL,
    evaluated_at   timestamptz NOT NULL,
    note           text
);
COMMENT ON TABLE qa_evaluations IS 'One scored listening of a call; the score is the sum of its items (qa_evaluation_totals).';
CREATE INDEX qa_evaluations_evaluated ON qa_evaluations (evaluated_at, queue);

CREATE TABLE qa_evaluation_items (
    evaluation_id   uuid NOT NULL REFERENCES qa_evaluations ON DELETE CASCADE,
    item_code       text NOT NULL,
    points_awarded  numeric(6, 2) NOT NULL DEFAULT 0,
    deduction       numeric(6, 2) NOT NULL DEFAULT 0 CHECK (deduction >= 0),
    fatal           boolean NOT NULL DEFAULT false,
    problem_class   char(1) CHECK (problem_class IN ('A', 'B', 'C')),
    note            text,
    PRIMARY KEY (evaluation_id, item_code)
);
COMMENT ON TABLE qa_evaluation_items IS 'Item scores of an evaluation: points, deductions, fatal errors, problem class A/B/C (QA-10).';

-- Total per evaluation: max(0, points - deductions); failed outright by any fatal item (docs/metrics.md §8).
CREATE VIEW qa_evaluation_totals AS
SELECT e.evaluation_id, e.call_id, e.agent_id, e.queue, e.form_id, e.evaluator, e.evaluated_at,
       greatest(0, coalesce(sum(i.points_awarded), 0) - coalesce(sum(i.deduction), 0))::float8 AS total_score,
       count(*) FILTER (WHERE i.fatal) AS fatal_errors,
       count(*) FILTER (WHERE i.problem_class = 'A') AS problems_a,
       count(*) FILTER (WHERE i.problem_class = 'B') AS problems_b,
       count(*) FILTER (WHERE i.problem_class = 'C') AS problems_c
FROM qa_evaluations e
LEFT JOIN qa_evaluation_items i USING (evaluation_id)
GROUP BY e.evaluation_id;

-- QA pass rate 合格率 (D-11) per queue (ACD group) and month, plus an overall row (queue NULL) per month.
CREATE FUNCTION report_qa_pass_rate(p_from timestamptz, p_to timestamptz, p_queue text DEFAULT NULL)
RETURNS TABLE (month_start timestamptz, queue text, evaluations bigint, passed bigint, pass_rate double precision,
               average_score double precision, fatal_evaluations bigint, problems_a bigint, problems_b bigint, problems_c bigint,
               pass_score double precision, definitions_version integer)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    tz text := setting_text('reports.time_zone');
    pass double precision := setting_numeric('metrics.qa_pass_score');
    ver integer := setting_numeric('metrics.definitions_version')::integer;
BEGIN
    PERFORM report_check_args(p_from, p_to, NULL);
    RETURN QUERY
    SELECT report_bucket(t.evaluated_at, '1mo', tz) AS m, t.queue,
           count(*), count(*) FILTER (WHERE t.total_score >= pass AND t.fatal_errors = 0),
           (count(*) FILTER (WHERE t.total_score >= pass AND t.fatal_errors = 0))::float8 / count(*),
           avg(t.total_score), count(*) FILTER (WHERE t.fatal_errors > 0),
           sum(t.problems_a)::bigint, sum(t.problems_b)::bigint, sum(t.problems_c)::bigint, pass, ver
    FROM qa_evaluation_totals t
    WHERE t.evaluated_at >= p_from AND t.evaluated_at < p_to AND (p_queue IS NULL OR t.queue = p_queue)
    GROUP BY GROUPING SETS ((1, t.queue), (1))
    ORDER BY 1, t.queue NULLS LAST;
END $$;
