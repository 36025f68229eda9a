package dev.forja.prep.io;

import dev.forja.prep.Doc;
import dev.forja.prep.PrepConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.stream.Collectors;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType;
import org.apache.parquet.schema.Type;

/**
 * The documents of one Parquet file: the text column ({@code prep.reader.text-field}, a UTF-8
 * string) and an optional id column. A file without such a column is one quarantined record naming
 * the columns it has; a row whose text is null is quarantined with its row number.
 */
final class ParquetDocs implements Iterator<Doc> {
  private final InputFile file;
  private final PrepConfig.Reader params;
  private ParquetReader<Group> reader;
  private Doc next;
  private long row;
  private boolean hasId;

  ParquetDocs(InputFile file, PrepConfig.Reader params, Configuration conf) throws IOException {
    this.file = file;
    this.params = params;
    Path path = new Path(file.uri());
    MessageType schema;
    try (ParquetFileReader r = ParquetFileReader.open(HadoopInputFile.fromPath(path, conf))) {
      schema = r.getFooter().getFileMetaData().getSchema();
    }
    String problem = textColumnProblem(schema, params.textField());
    if (problem != null) {
      next = Doc.quarantined(file.uri(), 0, "wrong-schema", problem, null);
      return;
    }
    hasId =
        schema.containsField(params.idField()) && schema.getType(params.idField()).isPrimitive();
    reader = ParquetReader.builder(new GroupReadSupport(), path).withConf(conf).build();
    advance();
  }

  static String textColumnProblem(MessageType schema, String field) {
    String columns =
        schema.getFields().stream().map(Type::getName).collect(Collectors.joining(", "));
    if (!schema.containsField(field)) {
      return "no column '" + field + "' (columns: " + columns + "; set prep.reader.text-field)";
    }
    Type t = schema.getType(field);
    if (!t.isPrimitive()
        || t.asPrimitiveType().getPrimitiveTypeName() != PrimitiveType.PrimitiveTypeName.BINARY
        || !(t.getLogicalTypeAnnotation()
            instanceof LogicalTypeAnnotation.StringLogicalTypeAnnotation)) {
      return "column '" + field + "' is " + t + ", not a string (columns: " + columns + ")";
    }
    return null;
  }

  private void advance() {
    try {
      Group g = reader.read();
      if (g == null) {
        reader.close();
        next = null;
        return;
      }
      long r = row++;
      if (g.getFieldRepetitionCount(params.textField()) == 0) {
        next = Doc.quarantined(file.uri(), r, "missing-text", "row " + r + " has no text", null);
        return;
      }
      Doc d = new Doc();
      String id =
          hasId && g.getFieldRepetitionCount(params.idField()) > 0
              ? g.getValueToString(g.getType().getFieldIndex(params.idField()), 0)
              : null;
      d.setId(id != null && !id.isEmpty() ? id : file.uri() + "#row" + r);
      d.setSource(file.uri());
      d.setPosition(r);
      d.setFormat("parquet");
      d.setText(g.getString(params.textField(), 0));
      d.setRawBytes(d.getText().length());
      next = d;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public boolean hasNext() {
    return next != null;
  }

  @Override
  public Doc next() {
    if (next == null) {
      throw new NoSuchElementException();
    }
    Doc d = next;
    if (reader == null) {
      next = null;
    } else {
      advance();
    }
    return d;
  }
}
