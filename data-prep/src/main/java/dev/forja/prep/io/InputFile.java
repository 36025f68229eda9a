package dev.forja.prep.io;

import java.io.Serializable;

/** One file to read: its URI, size and format (detected or forced). */
public record InputFile(String uri, long size, InputFormat format) implements Serializable {}
