/* Calendar dates and RFC 3339 date-times: strict parsing (proleptic Gregorian calendar, years
 * 0000 to 9999, no leap seconds) and conversion to UTC without the C library's time zone
 * machinery, so it is thread-safe and independent of TZ. */
#include <stdbool.h>
#include <stddef.h>

#include "kycgate/validate.h"
#include "validate_internal.h"

/* A parsed date-time; fields as written. */
struct stamp {
	int year, month, day, hour, minute, second;
	const char *frac;   /* digits after '.', or NULL */
	size_t frac_len;    /* 1..9 when frac */
	int offset_minutes; /* east of UTC */
};

/* n decimal digits at s into *out. */
static bool parse_digits(const char *s, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static bool leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

/* "YYYY-MM-DD" at s (10 bytes available) into the stamp; false unless the date exists. */
static bool parse_date(const char *s, struct stamp *t)
{
	if (s[4] != '-' || s[7] != '-')
		return false;
	if (!parse_digits(s, 4, &t->year) || !parse_digits(s + 5, 2, &t->month) ||
	    !parse_digits(s + 8, 2, &t->day))
		return false;
	if (t->month < 1 || t->month > 12)
		return false;
	return t->day >= 1 && t->day <= days_in_month(t->year, t->month);
}

bool kg_date_valid(const char *s, size_t len)
{
	struct stamp t;

	return s != NULL && len == 10 && parse_date(s, &t);
}

/* "HH:MM:SS" at s (8 bytes available); 24:00:00 and leap second 60 refused. */
static bool parse_time(const char *s, struct stamp *t)
{
	if (s[2] != ':' || s[5] != ':')
		return false;
	if (!parse_digits(s, 2, &t->hour) || !parse_digits(s + 3, 2, &t->minute) ||
	    !parse_digits(s + 6, 2, &t->second))
		return false;
	return t->hour <= 23 && t->minute <= 59 && t->second <= 59;
}

/* The offset at s (rest of the input, n bytes): "Z", "z" or "+hh:mm" / "-hh:mm". */
static bool parse_offset(const char *s, size_t n, struct stamp *t)
{
	int h, m;

	if (n == 1 && (s[0] == 'Z' || s[0] == 'z')) {
		t->offset_minutes = 0;
		return true;
	}
	if (n != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':')
		return false;
	if (!parse_digits(s + 1, 2, &h) || !parse_digits(s + 4, 2, &m) || h > 23 || m > 59)
		return false;
	t->offset_minutes = (s[0] == '-' ? -1 : 1) * (h * 60 + m);
	return true;
}

/* Parses the whole date-time; a valid one that simply stops before the offset is NO_OFFSET. */
static enum kgv_time parse_stamp(const char *s, size_t len, struct stamp *t)
{
	size_t i = 19;

	if (s == NULL || len < 19 || !parse_date(s, t) || (s[10] != 'T' && s[10] != 't') ||
	    !parse_time(s + 11, t))
		return KGV_TIME_BAD;
	t->frac = NULL;
	t->frac_len = 0;
	if (i < len && s[i] == '.') {
		t->frac = s + ++i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		t->frac_len = (size_t)(s + i - t->frac);
		if (t->frac_len == 0 || t->frac_len > 9)
			return KGV_TIME_BAD;
	}
	if (i == len)
		return KGV_TIME_NO_OFFSET;
	return parse_offset(s + i, len - i, t) ? KGV_TIME_OK : KGV_TIME_BAD;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static long long days_from_civil(long long y, int m, int d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(long long z, long long *y, int *m, int *d)
{
	long long era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Writes v as exactly width decimal digits. */
static char *put_digits(char *w, long long v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		w[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return w + width;
}

/* Writes "YYYY-MM-DDTHH:MM:SS[.frac]Z" for epoch (UTC); false when the year leaves 0..9999. */
static bool format_utc(long long epoch, const struct stamp *t, char *out, size_t cap)
{
	long long days = epoch >= 0 ? epoch / 86400 : -((-epoch + 86399) / 86400);
	long long secs = epoch - days * 86400, year;
	int month, day;
	char *w = out;

	civil_from_days(days, &year, &month, &day);
	if (year < 0 || year > 9999 || cap < 20 + t->frac_len + 2)
		return false;
	w = put_digits(w, year, 4);
	*w++ = '-';
	w = put_digits(w, month, 2);
	*w++ = '-';
	w = put_digits(w, day, 2);
	*w++ = 'T';
	w = put_digits(w, secs / 3600, 2);
	*w++ = ':';
	w = put_digits(w, secs / 60 % 60, 2);
	*w++ = ':';
	w = put_digits(w, secs % 60, 2);
	if (t->frac != NULL) {
		*w++ = '.';
		for (size_t i = 0; i < t->frac_len; i++)
			*w++ = t->frac[i];
	}
	*w++ = 'Z';
	*w = '\0';
	return true;
}

enum kgv_time kgv_rfc3339(const char *s, size_t len, char *out, size_t cap, long long *epoch)
{
	struct stamp t;
	enum kgv_time r = parse_stamp(s, len, &t);
	long long e;

	if (r != KGV_TIME_OK)
		return r;
	e = days_from_civil(t.year, t.month, t.day) * 86400 + t.hour * 3600 + t.minute * 60 +
	    t.second - (long long)t.offset_minutes * 60;
	if (!format_utc(e, &t, out, cap))
		return KGV_TIME_BAD;
	if (epoch != NULL)
		*epoch = e;
	return KGV_TIME_OK;
}

bool kg_rfc3339_to_utc(const char *s, size_t len, char *out, size_t cap, long long *epoch)
{
	return kgv_rfc3339(s, len, out, cap, epoch) == KGV_TIME_OK;
}
