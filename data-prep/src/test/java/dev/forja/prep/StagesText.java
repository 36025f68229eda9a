package dev.forja.prep;

/** Realistic test paragraphs, shared by the prep tests. */
public final class StagesText {
  public static final String EN =
      "The old bridge was repaired by the engineers of the city council during the summer. "
          + "Residents of the village crossed it every morning to reach the market near the coast. "
          + "The library opened a new room for students, and the museum welcomed many visitors. "
          + "After the storm, the farmers cleaned the fields and the fishermen repaired the boats. "
          + "The newspaper described the festival as the most popular event of the year. "
          + "Children played in the garden while their parents talked with the teacher about school.";
  public static final String EN2 =
      "A small orchestra from the north gave three concerts in the harbour town last spring. "
          + "The musicians travelled by train and stayed with families who lived near the station. "
          + "Every evening the hall was full, and people who could not find a seat stood at the back. "
          + "The mayor thanked the conductor and promised that the festival would return next year. "
          + "Local shops stayed open late, and the bakery sold bread to the visitors until midnight. "
          + "Several students asked the violinist about lessons, and she agreed to teach on Sundays.";

  private StagesText() {}
}
