package dev.forja.training.distributed;

import dev.forja.training.train.TrainState;
import java.io.Serializable;

/**
 * One round as a task sees it. Everything a worker computes is a function of this and its index, so
 * a retried task returns the same bits.
 *
 * @param spec what all rounds share
 * @param round the round number (1-based)
 * @param start the global state the round starts from (step, data cursor, seed)
 * @param steps local steps per worker this round
 * @param weights where the worker fetches the round's parameters (and, when averaged, the optimizer
 *     moments) and delivers its own
 * @param fault test hook: an executor JVM to kill in this round, or null
 */
public record RoundInput(
    WorkerSpec spec,
    long round,
    TrainState start,
    int steps,
    Exchange.Handle weights,
    FaultInjection fault)
    implements Serializable {}
