/* Own header of bad.c (present so only the layer rule is broken in bad.c). */
