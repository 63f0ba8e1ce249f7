/* Write a 32x24 YCCK JPEG (Adobe transform 2) for the decoder tests: four
 * flat 16x12 quadrants of CMYK red (0,255,255,0), green (255,0,255,0),
 * blue (255,255,0,0) and 50 % black (0,0,0,128), given to libjpeg inverted
 * (255 = no ink), the Adobe convention that PIL and Photoshop write.
 *
 * Built and run by scripts/make_image_fixtures.py:
 *     gcc -O2 -o make_ycck_jpeg scripts/make_ycck_jpeg.c -ljpeg
 *     ./make_ycck_jpeg out.jpg
 */
#include <stdio.h>
#include <jpeglib.h>

int main(int argc, char **argv) {
	static const unsigned char cmyk[4][4] = {
		{0, 255, 255, 0}, {255, 0, 255, 0}, {255, 255, 0, 0}, {0, 0, 0, 128}};
	unsigned char row[32 * 4];
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr err;
	FILE *f;
	if (argc != 2 || (f = fopen(argv[1], "wb")) == NULL) {
		fprintf(stderr, "usage: make_ycck_jpeg out.jpg\n");
		return 2;
	}
	c.err = jpeg_std_error(&err);
	jpeg_create_compress(&c);
	jpeg_stdio_dest(&c, f);
	c.image_width = 32;
	c.image_height = 24;
	c.input_components = 4;
	c.in_color_space = JCS_CMYK;
	jpeg_set_defaults(&c);
	jpeg_set_colorspace(&c, JCS_YCCK); /* writes the Adobe marker, transform 2 */
	jpeg_set_quality(&c, 95, TRUE);
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < c.image_height) {
		int y = c.next_scanline;
		for (int x = 0; x < 32; x++) {
			const unsigned char *q = cmyk[(y / 12) * 2 + x / 16];
			for (int k = 0; k < 4; k++) {
				row[4 * x + k] = 255 - q[k];
			}
		}
		JSAMPROW rp = row;
		jpeg_write_scanlines(&c, &rp, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	fclose(f);
	return 0;
}
